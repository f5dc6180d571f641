package deploytest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/dirbridge/dirbridge/config"
)

// objects is one deployment's decoded objects by kind.
type objects struct {
	deployments []*appsv1.Deployment
	configMaps  []*corev1.ConfigMap
	secrets     []*corev1.Secret
	services    []*corev1.Service
	accounts    []*corev1.ServiceAccount
	claims      []*corev1.PersistentVolumeClaim
	namespaces  []*corev1.Namespace
	budgets     []*policyv1.PodDisruptionBudget
}

// decodeStrict decodes one YAML document into the API type its apiVersion
// and kind name: a field the type does not have (a typo, a field at the
// wrong level) is an error, as is a kind the deployment is not expected
// to ship.
func (o *objects) decodeStrict(t *testing.T, where string, doc []byte) {
	t.Helper()
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	var head struct{ APIVersion, Kind string }
	if err := json.Unmarshal(js, &head); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	var into any
	switch head.APIVersion + " " + head.Kind {
	case "apps/v1 Deployment":
		d := new(appsv1.Deployment)
		o.deployments, into = append(o.deployments, d), d
	case "v1 ConfigMap":
		c := new(corev1.ConfigMap)
		o.configMaps, into = append(o.configMaps, c), c
	case "v1 Secret":
		s := new(corev1.Secret)
		o.secrets, into = append(o.secrets, s), s
	case "v1 Service":
		s := new(corev1.Service)
		o.services, into = append(o.services, s), s
	case "v1 ServiceAccount":
		s := new(corev1.ServiceAccount)
		o.accounts, into = append(o.accounts, s), s
	case "v1 PersistentVolumeClaim":
		c := new(corev1.PersistentVolumeClaim)
		o.claims, into = append(o.claims, c), c
	case "v1 Namespace":
		n := new(corev1.Namespace)
		o.namespaces, into = append(o.namespaces, n), n
	case "policy/v1 PodDisruptionBudget":
		p := new(policyv1.PodDisruptionBudget)
		o.budgets, into = append(o.budgets, p), p
	default:
		t.Fatalf("%s: unexpected object %s %s", where, head.APIVersion, head.Kind)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		t.Fatalf("%s (%s): %v", where, head.Kind, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("%s: trailing data after the object", where)
	}
}

// decodeAll decodes every document of a multi-document YAML stream.
func (o *objects) decodeAll(t *testing.T, where, stream string) {
	t.Helper()
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(stream, -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		o.decodeStrict(t, fmt.Sprintf("%s#%d", where, i), []byte(doc))
	}
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

var digestImage = regexp.MustCompile(`^[a-z0-9.-]+(/[a-z0-9._-]+)+@sha256:[0-9a-f]{64}$`)

// checkDeployment checks what every shipped deployment relies on and
// returns the one Deployment.
func checkDeployment(t *testing.T, o *objects) *appsv1.Deployment {
	t.Helper()
	if len(o.deployments) != 1 {
		t.Fatalf("%d Deployments, want 1", len(o.deployments))
	}
	d := o.deployments[0]
	pod := d.Spec.Template
	sel := d.Spec.Selector.MatchLabels
	if len(sel) == 0 || !subset(sel, pod.Labels) {
		t.Errorf("selector %v does not match the pod labels %v", sel, pod.Labels)
	}
	sc := pod.Spec.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65532 ||
		sc.FSGroup == nil || *sc.FSGroup != 65532 {
		t.Errorf("pod securityContext %+v: want runAsNonRoot, runAsUser and fsGroup 65532 (the image's nonroot)", sc)
	}
	if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		t.Error("the pod mounts a service account token; dirbridge never calls the API")
	}
	aff := pod.Spec.Affinity
	if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		t.Error("no pod anti-affinity: replicas may share a node")
	} else {
		for _, w := range aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			if ls := w.PodAffinityTerm.LabelSelector; ls == nil || !subset(ls.MatchLabels, pod.Labels) {
				t.Errorf("anti-affinity on %s does not select the pods", w.PodAffinityTerm.TopologyKey)
			}
		}
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	if !digestImage.MatchString(c.Image) {
		t.Errorf("image %q is not pinned by digest (REPO@sha256:...)", c.Image)
	}
	if c.StartupProbe == nil || c.StartupProbe.HTTPGet == nil || c.ReadinessProbe == nil || c.LivenessProbe == nil {
		t.Error("the container needs startup, readiness and liveness probes")
	} else if c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v, want GET /readyz", c.ReadinessProbe)
	}
	if s := c.SecurityContext; s == nil || s.ReadOnlyRootFilesystem == nil || !*s.ReadOnlyRootFilesystem ||
		s.AllowPrivilegeEscalation == nil || *s.AllowPrivilegeEscalation {
		t.Errorf("container securityContext %+v: want a read-only root and no privilege escalation", s)
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			t.Errorf("mount %s: no volume of that name", m.Name)
			continue
		}
		if m.SubPath != "" || m.SubPathExpr != "" {
			t.Errorf("mount %s uses subPath: ConfigMap and Secret edits never reach it", m.Name)
		}
		if v.Secret != nil && (v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o040 == 0) {
			t.Errorf("secret volume %s: mode %v is not readable by fsGroup", m.Name, v.Secret.DefaultMode)
		}
	}
	// Every PDB and Service selects these pods.
	for _, p := range o.budgets {
		if p.Spec.Selector == nil || !subset(p.Spec.Selector.MatchLabels, pod.Labels) {
			t.Errorf("PodDisruptionBudget %s does not select the pods", p.Name)
		}
	}
	for _, s := range o.services {
		if !subset(s.Spec.Selector, pod.Labels) {
			t.Errorf("Service %s does not select the pods", s.Name)
		}
	}
	return d
}

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

// configCheck lays out the pod's files under a temporary root the way the
// Deployment mounts them (the ConfigMap's and the Secret's keys as files in
// their mount paths) and loads the config named by --config with
// dirbridge's config.Load, as `dirbridge config check` would in the pod.
func configCheck(t *testing.T, d *appsv1.Deployment, cms []*corev1.ConfigMap, secrets []*corev1.Secret) *config.Config {
	t.Helper()
	root := t.TempDir()
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = filepath.Join(root, m.MountPath)
	}
	for _, v := range pod.Volumes {
		dir, mounted := mounts[v.Name]
		if !mounted {
			continue
		}
		files := map[string]string{}
		switch {
		case v.ConfigMap != nil:
			cm := findConfigMap(t, cms, v.ConfigMap.Name)
			files = cm.Data
		case v.Secret != nil:
			s := findSecret(t, secrets, v.Secret.SecretName)
			for k, val := range s.StringData {
				files[k] = val
			}
			for k, val := range s.Data {
				files[k] = string(val)
			}
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	i := slices.Index(c.Args, "--config")
	if i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("args %q name no --config", c.Args)
	}
	cfg, err := config.Load(filepath.Join(root, c.Args[i+1]))
	if err != nil {
		t.Fatalf("config check in the pod's layout:\n%v", err)
	}
	return cfg
}

func findConfigMap(t *testing.T, cms []*corev1.ConfigMap, name string) *corev1.ConfigMap {
	t.Helper()
	for _, cm := range cms {
		if cm.Name == name {
			return cm
		}
	}
	t.Fatalf("no ConfigMap %s", name)
	return nil
}

func findSecret(t *testing.T, secrets []*corev1.Secret, name string) *corev1.Secret {
	t.Helper()
	for _, s := range secrets {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no Secret %s", name)
	return nil
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
