package deploytest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const manifestsDir = "../kubernetes"

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

// kustomization is the part of kustomization.yaml the manifests use; any
// other field is an error here, so the test learns what it must follow.
type kustomization struct {
	APIVersion         string   `json:"apiVersion"`
	Kind               string   `json:"kind"`
	Namespace          string   `json:"namespace"`
	Resources          []string `json:"resources"`
	ConfigMapGenerator []struct {
		Name  string   `json:"name"`
		Files []string `json:"files"`
	} `json:"configMapGenerator"`
}

// TestKustomizeManifests decodes every resource kustomization.yaml lists
// strictly, builds the generated ConfigMap, and runs the config check
// with the example Secret's keys where the pods mount them. The
// placeholder Secret is not among the resources.
func TestKustomizeManifests(t *testing.T) {
	data, err := readFile(filepath.Join(manifestsDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	o := &objects{}
	used := map[string]bool{"kustomization.yaml": true}
	for _, r := range k.Resources {
		used[r] = true
		doc, err := readFile(filepath.Join(manifestsDir, r))
		if err != nil {
			t.Fatal(err)
		}
		o.decodeAll(t, r, string(doc))
	}
	for _, g := range k.ConfigMapGenerator {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: g.Name}, Data: map[string]string{}}
		for _, f := range g.Files {
			used[f] = true
			b, err := readFile(filepath.Join(manifestsDir, f))
			if err != nil {
				t.Fatal(err)
			}
			cm.Data[filepath.Base(f)] = string(b)
		}
		o.configMaps = append(o.configMaps, cm)
	}
	if slices.ContainsFunc(k.Resources, func(r string) bool { return strings.Contains(r, "secret") }) || len(o.secrets) != 0 {
		t.Errorf("kustomization.yaml applies a Secret: %v", k.Resources)
	}
	// Every manifest in the folder is used: none is forgotten.
	entries, err := os.ReadDir(manifestsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") && !used[e.Name()] {
			t.Errorf("%s is neither a resource nor a generator file of kustomization.yaml", e.Name())
		}
	}

	d := checkDeployment(t, o)
	if *d.Spec.Replicas < 2 || len(o.budgets) != 1 {
		t.Errorf("replicas %d with %d PodDisruptionBudgets; the manifests run PostgreSQL replicas under one", *d.Spec.Replicas, len(o.budgets))
	}
	if len(o.namespaces) != 1 || o.namespaces[0].Name != k.Namespace {
		t.Errorf("namespace %q is not created by the resources", k.Namespace)
	}

	// The example Secret decodes and holds what the config reads.
	doc, err := readFile(filepath.Join(manifestsDir, "secret.yaml.example"))
	if err != nil {
		t.Fatal(err)
	}
	secrets := &objects{}
	secrets.decodeAll(t, "secret.yaml.example", string(doc))
	if len(secrets.secrets) != 1 {
		t.Fatalf("secret.yaml.example holds %d Secrets", len(secrets.secrets))
	}
	cfg := configCheck(t, d, o.configMaps, secrets.secrets)
	if cfg.Store.Driver != "postgres" {
		t.Errorf("store %s, want postgres for replicas", cfg.Store.Driver)
	}
}
