package deploy

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// baseDir is deploy/base of the repository, from this package's folder.
const baseDir = "../../../deploy/base"

// objects is a rendered kustomization, every object decoded strictly.
type objects struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	configMap  *corev1.ConfigMap
	podMonitor *monitoringv1.PodMonitor
	testRun    *TestRun
}

// strictDecode decodes data into v as the API server's strict validation
// does: field names match case-sensitively, and a field v has no place for,
// or a duplicate one, is an error. (encoding/json alone would take
// "cleanUp" for "cleanup".)
func strictDecode(data []byte, v any) error {
	strict, err := sigsjson.UnmarshalStrict(data, v)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// k6Archive returns the k6 archive of k6/load.js, as deploy/bundle.sh
// writes it: made with k6 when it is on PATH, else a stand-in (the
// archive's content is k6's business; archive.sh proves it loads).
func k6Archive(t *testing.T) []byte {
	t.Helper()
	if data, err := os.ReadFile(filepath.Join(baseDir, "load.tar")); err == nil {
		return data
	}
	if k6, err := exec.LookPath("k6"); err == nil {
		out := filepath.Join(t.TempDir(), "load.tar")
		cmd := exec.Command(k6, "archive", "--quiet", "-O", out, "load.js")
		cmd.Dir = "../../../k6"
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("k6 archive: %v\n%s", err, msg)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	t.Log("k6 is not on PATH: the ConfigMap holds a stand-in for load.tar")
	return []byte("stand-in for the k6 archive of load.js\n")
}

// render renders deploy/base, with edit applied to its files first, in an
// in-memory file system, as `kustomize build` would.
func render(t *testing.T, edit func(files map[string]string)) (*objects, error) {
	t.Helper()
	entries, err := os.ReadDir(baseDir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") {
			data, err := os.ReadFile(filepath.Join(baseDir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[e.Name()] = string(data)
		}
	}
	files["load.tar"] = string(k6Archive(t))
	if edit != nil {
		edit(files)
	}
	fs := filesys.MakeFsInMemory()
	for name, data := range files {
		if err := fs.WriteFile(filepath.Join("/base", name), []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/base")
	if err != nil {
		return nil, fmt.Errorf("kustomize build: %w", err)
	}
	var o objects
	for _, r := range resMap.Resources() {
		data, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		kind := r.GetApiVersion() + "/" + r.GetKind()
		var target any
		switch kind {
		case "apps/v1/Deployment":
			o.deployment = new(appsv1.Deployment)
			target = o.deployment
		case "v1/Service":
			o.service = new(corev1.Service)
			target = o.service
		case "v1/ConfigMap":
			o.configMap = new(corev1.ConfigMap)
			target = o.configMap
		case "monitoring.coreos.com/v1/PodMonitor":
			o.podMonitor = new(monitoringv1.PodMonitor)
			target = o.podMonitor
		case "k6.io/v1alpha1/TestRun":
			o.testRun = new(TestRun)
			target = o.testRun
		default:
			return nil, fmt.Errorf("unexpected object %s %s", kind, r.GetName())
		}
		if err := strictDecode(data, target); err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, r.GetName(), err)
		}
	}
	for name, missing := range map[string]bool{
		"Deployment": o.deployment == nil, "Service": o.service == nil, "ConfigMap": o.configMap == nil,
		"PodMonitor": o.podMonitor == nil, "TestRun": o.testRun == nil,
	} {
		if missing {
			return nil, fmt.Errorf("no %s rendered", name)
		}
	}
	return &o, nil
}

// TestRenderBase renders deploy/base, decodes every object strictly and
// checks that the objects fit together.
func TestRenderBase(t *testing.T) {
	o, err := render(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	pod := o.deployment.Spec.Template
	matches := func(selector map[string]string) bool {
		for k, v := range selector {
			if pod.Labels[k] != v {
				return false
			}
		}
		return len(selector) > 0
	}

	// The Deployment: the demo server, non-root, read-only, listening on
	// all interfaces of the pod on the port the Service and PodMonitor name.
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("pod securityContext: want runAsNonRoot")
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("container securityContext: want a read-only root and no privilege escalation")
	}
	if args := strings.Join(c.Args, " "); !strings.Contains(args, "-addr 0.0.0.0:8080") {
		t.Errorf("args %q: want -addr 0.0.0.0:8080", args)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] != 8080 {
		t.Errorf("container ports %v: want http 8080", ports)
	}

	// The Service and PodMonitor select the pods.
	if !matches(o.service.Spec.Selector) {
		t.Errorf("Service selector %v does not match the pod labels %v", o.service.Spec.Selector, pod.Labels)
	}
	if !matches(o.podMonitor.Spec.Selector.MatchLabels) {
		t.Errorf("PodMonitor selector %v does not match the pod labels %v", o.podMonitor.Spec.Selector.MatchLabels, pod.Labels)
	}
	if eps := o.podMonitor.Spec.PodMetricsEndpoints; len(eps) != 1 || eps[0].Port == nil || *eps[0].Port != "http" || eps[0].Path != "/metrics" {
		t.Errorf("PodMonitor endpoints %+v: want port http, path /metrics", eps)
	}

	// The TestRun: 4 runners, the generated ConfigMap (by its hashed
	// name) and a key it has, the Service by name.
	tr := o.testRun.Spec
	if tr.Parallelism != 4 {
		t.Errorf("TestRun parallelism %d, want 4", tr.Parallelism)
	}
	if tr.Script.ConfigMap == nil {
		t.Fatal("TestRun: no script.configMap")
	}
	if got, want := tr.Script.ConfigMap.Name, o.configMap.Name; got != want || !strings.HasPrefix(want, "bodypool-k6-load-") {
		t.Errorf("TestRun script ConfigMap %q, generated ConfigMap %q: want the same, with a content hash", got, want)
	}
	file := tr.Script.ConfigMap.File
	if _, inData := o.configMap.Data[file]; !inData {
		if _, inBinary := o.configMap.BinaryData[file]; !inBinary {
			t.Errorf("TestRun script file %q is not a key of the ConfigMap", file)
		}
	}
	env := map[string]string{}
	for _, e := range tr.Runner.Env {
		env[e.Name] = e.Value
	}
	if want := fmt.Sprintf("http://%s:%d", o.service.Name, o.service.Spec.Ports[0].Port); env["BASE_URL"] != want {
		t.Errorf("TestRun BASE_URL %q, want %q", env["BASE_URL"], want)
	}
	if env["REMOTE_TARGET"] != "1" || env["K6_PROMETHEUS_RW_SERVER_URL"] == "" {
		t.Errorf("TestRun env %v: want REMOTE_TARGET=1 and a remote-write URL", env)
	}
	if !strings.Contains(tr.Arguments, "experimental-prometheus-rw") {
		t.Errorf("TestRun arguments %q: want the remote-write output", tr.Arguments)
	}
}

// TestRenderStrict checks that the decoding is strict: a misspelt field in
// any of the objects fails it.
func TestRenderStrict(t *testing.T) {
	tests := []struct{ file, old, new string }{
		{"testrun.yaml", "parallelism: 4", "parallelizm: 4"},
		{"testrun.yaml", "cleanup: post", "cleanUp: post"},
		{"podmonitor.yaml", "podMetricsEndpoints:", "podMetricEndpoints:"},
		{"deployment.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true"},
		{"service.yaml", "targetPort: http", "targetport: http"},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.new, func(t *testing.T) {
			_, err := render(t, func(files map[string]string) {
				if !strings.Contains(files[tt.file], tt.old) {
					t.Fatalf("%s has no %q", tt.file, tt.old)
				}
				files[tt.file] = strings.Replace(files[tt.file], tt.old, tt.new, 1)
			})
			if err == nil || !strings.Contains(err.Error(), "unknown field") {
				t.Errorf("render with %q: error %v, want an unknown field", tt.new, err)
			}
		})
	}
}
