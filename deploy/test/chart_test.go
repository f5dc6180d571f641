package deploytest

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/dirbridge/dirbridge/config"
)

const chartDir = "../helm/dirbridge"

// render renders the chart as `helm template dirbridge CHART -f FILE... `
// would, with the values files (relative to the chart) and then set merged
// over the chart's defaults. Missing values are errors (strict).
func render(t *testing.T, files []string, set map[string]any) (map[string]string, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	user := map[string]any{}
	for _, f := range files {
		vals, err := common.ReadValuesFile(filepath.Join(chartDir, f))
		if err != nil {
			t.Fatal(err)
		}
		mergeValues(user, vals)
	}
	mergeValues(user, set)
	top, err := util.ToRenderValues(ch, user, common.ReleaseOptions{Name: "dirbridge", Namespace: "dirbridge", IsInstall: true}, nil)
	if err != nil {
		return nil, err
	}
	return engine.Engine{Strict: true}.RenderWithContext(t.Context(), ch, top)
}

// mergeValues merges src into dst as helm merges -f files: maps deeply,
// everything else (lists, null) replaced.
func mergeValues(dst, src map[string]any) {
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				mergeValues(dv, sv)
				continue
			}
			cp := map[string]any{}
			mergeValues(cp, sv)
			dst[k] = cp
			continue
		}
		dst[k] = v
	}
}

// renderObjects renders and decodes every manifest strictly.
func renderObjects(t *testing.T, files []string, set map[string]any) (*objects, map[string]string) {
	t.Helper()
	out, err := render(t, files, set)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	o := &objects{}
	for _, name := range slices.Sorted(maps.Keys(out)) {
		if strings.HasSuffix(name, "NOTES.txt") {
			continue
		}
		o.decodeAll(t, name, out[name])
	}
	return o, out
}

// The placeholder Secret a test gives the chart, with every file the
// PostgreSQL values' config reads.
var testSecret = map[string]any{"secret": map[string]any{"create": true, "stringData": map[string]any{
	"postgres-dsn":  "postgres://dirbridge:pw@postgres:5432/dirbridge?sslmode=require",
	"bind-password": "pw",
	"ad-ca.pem":     "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
}}}

func TestChartSQLiteSingleReplica(t *testing.T) {
	o, out := renderObjects(t, nil, nil)
	d := checkDeployment(t, o)
	if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != "Recreate" {
		t.Errorf("replicas %d, strategy %s: SQLite wants one replica, recreated", *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	if len(o.claims) != 1 {
		t.Fatalf("%d PersistentVolumeClaims, want the store's", len(o.claims))
	}
	var state *corev1.Volume
	for i, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == "state" {
			state = &d.Spec.Template.Spec.Volumes[i]
		}
	}
	if state == nil || state.PersistentVolumeClaim == nil || state.PersistentVolumeClaim.ClaimName != o.claims[0].Name {
		t.Errorf("the state volume %+v is not the claim %s", state, o.claims[0].Name)
	}
	if len(o.budgets) != 0 {
		t.Error("a PodDisruptionBudget for one replica would only block drains")
	}
	if len(o.secrets) != 0 {
		t.Error("the chart renders a Secret by default")
	}
	cfg := configCheck(t, d, o.configMaps, nil)
	if cfg.Store.Driver != config.DriverSQLite || cfg.Store.DSN.Value() != "/var/lib/dirbridge/dirbridge.db" {
		t.Errorf("store %s %s, want SQLite on the state volume", cfg.Store.Driver, cfg.Store.DSN.Value())
	}
	checksum := d.Spec.Template.Annotations["checksum/config"]
	if want := sha256Hex(out["dirbridge/templates/configmap.yaml"]); checksum != want {
		t.Errorf("checksum/config %q, want the rendered ConfigMap's sha256 %s", checksum, want)
	}
	if notes := out["dirbridge/templates/NOTES.txt"]; !strings.Contains(notes, "placeholder") {
		t.Errorf("NOTES.txt does not warn about the placeholder digest:\n%s", notes)
	}
}

func TestChartPostgresReplicas(t *testing.T) {
	o, _ := renderObjects(t, []string{"values-postgres.yaml"}, nil)
	d := checkDeployment(t, o)
	if *d.Spec.Replicas < 2 || d.Spec.Strategy.Type != "RollingUpdate" {
		t.Errorf("replicas %d, strategy %s", *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	if len(o.budgets) != 1 || o.budgets[0].Spec.MaxUnavailable == nil || o.budgets[0].Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudgets %+v, want one with maxUnavailable 1", o.budgets)
	}
	if len(o.claims) != 0 {
		t.Error("PostgreSQL replicas need no volume claim")
	}
	if len(o.secrets) != 0 {
		t.Error("the chart renders the Secret unasked")
	}
	// The config passes its check with the Secret the pods mount.
	o, _ = renderObjects(t, []string{"values-postgres.yaml"}, testSecret)
	if len(o.secrets) != 1 || o.secrets[0].Name != "dirbridge-secrets" {
		t.Fatalf("secret.create rendered %d Secrets", len(o.secrets))
	}
	cfg := configCheck(t, checkDeployment(t, o), o.configMaps, o.secrets)
	if cfg.Store.Driver != config.DriverPostgres || !strings.HasPrefix(cfg.Store.DSN.Value(), "postgres://") {
		t.Errorf("store %s, want PostgreSQL from the Secret", cfg.Store.Driver)
	}
	if len(cfg.Directories) != 1 || cfg.Directories[0].BindPassword.Value() != "pw" {
		t.Errorf("directories %+v: the bind password comes from the Secret", cfg.Directories)
	}
}

// A config change changes the pod template (the checksum), so helm upgrade
// rolls the pods; anything else leaves it alone.
func TestChartChecksumFollowsConfig(t *testing.T) {
	sum := func(set map[string]any) string {
		o, _ := renderObjects(t, nil, set)
		return checkDeployment(t, o).Spec.Template.Annotations["checksum/config"]
	}
	base := sum(nil)
	if base == "" {
		t.Fatal("no checksum/config annotation")
	}
	if sum(map[string]any{"config": map[string]any{"log": map[string]any{"level": "debug"}}}) == base {
		t.Error("a config change kept the checksum")
	}
	if sum(map[string]any{"service": map[string]any{"port": 8080}}) != base {
		t.Error("a Service change changed the config checksum")
	}
}

func TestChartRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		set   map[string]any
		want  string
	}{
		{"sqlite replicas", nil, map[string]any{"replicaCount": 2}, "SQLite runs one replica"},
		{"no digest", nil, map[string]any{"image": map[string]any{"digest": ""}}, "image.digest is required"},
		{"tag for digest", nil, map[string]any{"image": map[string]any{"digest": "latest"}}, "is not sha256:<64 hex digits>"},
		{"secret without name", nil, map[string]any{"secret": map[string]any{"create": true}}, "secret.create needs secret.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, tc.files, tc.set)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("render: %v, want %q", err, tc.want)
			}
		})
	}
}

// The defaults pin the image by a digest marked as a placeholder.
func TestChartValuesPinDigest(t *testing.T) {
	var vals struct {
		Image struct{ Repository, Digest string }
	}
	data, err := readFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &vals); err != nil {
		t.Fatal(err)
	}
	if !digestImage.MatchString(vals.Image.Repository + "@" + vals.Image.Digest) {
		t.Errorf("values.yaml image %s@%s is not pinned by digest", vals.Image.Repository, vals.Image.Digest)
	}
	if !strings.Contains(string(data), "PLACEHOLDER DIGEST") {
		t.Error("values.yaml does not mark its digest as a placeholder")
	}
}

// With server.internal_listen, /readyz and /metrics are served on that
// port only (the public one answers 404): the readiness probe and the
// scrape annotation follow it.
func TestChartInternalListener(t *testing.T) {
	ports := func(d *appsv1.Deployment) map[string]int32 {
		out := map[string]int32{}
		for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
			out[p.Name] = p.ContainerPort
		}
		return out
	}
	o, _ := renderObjects(t, nil, nil)
	d := checkDeployment(t, o)
	c := d.Spec.Template.Spec.Containers[0]
	if got := ports(d); len(got) != 1 || got["http"] != 8080 || c.ReadinessProbe.HTTPGet.Port.String() != "http" {
		t.Errorf("ports %v, readiness on %s; want http 8080", got, c.ReadinessProbe.HTTPGet.Port.String())
	}

	o, _ = renderObjects(t, nil, map[string]any{"config": map[string]any{"server": map[string]any{
		"listen": ":8443", "internal_listen": "0.0.0.0:9090"}}})
	d = checkDeployment(t, o)
	c = d.Spec.Template.Spec.Containers[0]
	if got := ports(d); got["http"] != 8443 || got["internal"] != 9090 {
		t.Errorf("ports %v, want http 8443 and internal 9090", got)
	}
	if p := c.ReadinessProbe.HTTPGet.Port.String(); p != "internal" {
		t.Errorf("readiness probe on %s, want internal", p)
	}
	if p := c.LivenessProbe.HTTPGet.Port.String(); p != "http" {
		t.Errorf("liveness probe on %s; /healthz stays on the public listener", p)
	}
	if a := d.Spec.Template.Annotations["prometheus.io/port"]; a != "9090" {
		t.Errorf("prometheus.io/port %q, want 9090", a)
	}
	configCheck(t, d, o.configMaps, nil)

	if _, err := render(t, nil, map[string]any{"config": map[string]any{"server": map[string]any{"internal_listen": "localhost"}}}); err == nil || !strings.Contains(err.Error(), "has no port") {
		t.Errorf("internal_listen without a port: %v", err)
	}
}
