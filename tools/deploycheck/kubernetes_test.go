package deploycheck

import (
	"bytes"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// k8sObjects is what one manifest set decodes into.
type k8sObjects struct {
	statefulSets    []*appsv1.StatefulSet
	services        []*corev1.Service
	serviceMonitors []*monitoringv1.ServiceMonitor
	others          int
}

// decodeK8s decodes one YAML document strictly into its real API type.
// Unknown kinds fail: every kind shipped here must be checked.
func decodeK8s(t *testing.T, what string, doc []byte, into *k8sObjects) {
	t.Helper()
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	what = fmt.Sprintf("%s (%s %s)", what, tm.APIVersion, tm.Kind)
	switch tm.APIVersion + "/" + tm.Kind {
	case "apps/v1/StatefulSet":
		o := &appsv1.StatefulSet{}
		if unmarshalYAMLStrict(t, what, doc, o) {
			into.statefulSets = append(into.statefulSets, o)
		}
	case "v1/Service":
		o := &corev1.Service{}
		if unmarshalYAMLStrict(t, what, doc, o) {
			into.services = append(into.services, o)
		}
	case "v1/ServiceAccount":
		unmarshalYAMLStrict(t, what, doc, &corev1.ServiceAccount{})
		into.others++
	case "v1/Namespace":
		unmarshalYAMLStrict(t, what, doc, &corev1.Namespace{})
		into.others++
	case "monitoring.coreos.com/v1/ServiceMonitor":
		o := &monitoringv1.ServiceMonitor{}
		if unmarshalYAMLStrict(t, what, doc, o) {
			into.serviceMonitors = append(into.serviceMonitors, o)
		}
	default:
		t.Errorf("%s: kind not known to this test; add a strict decode for it", what)
	}
}

func splitYAMLDocs(b []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(b, []byte("\n---")) {
		if len(bytes.TrimSpace(d)) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

// TestKubernetesFilesDecodeStrictly decodes every YAML file under
// deploy/kubernetes into the real Kubernetes (or kustomize) types, with
// unknown fields rejected.
func TestKubernetesFilesDecodeStrictly(t *testing.T) {
	root := repoPath(t, "deploy", "kubernetes")
	var seen int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return err
		}
		seen++
		rel, _ := filepath.Rel(repoRoot(t), path)
		b := readRepoFile(t, rel)
		switch {
		case filepath.Base(path) == "kustomization.yaml":
			var k kusttypes.Kustomization
			unmarshalYAMLStrict(t, rel, b, &k)
			if k.Kind != "Kustomization" {
				t.Errorf("%s: kind %q", rel, k.Kind)
			}
			for _, r := range k.Resources {
				mustExist(t, rel+": resource "+r, filepath.Join(filepath.Dir(path), r))
			}
			for _, p := range k.Patches {
				if p.Path != "" {
					mustExist(t, rel+": patch "+p.Path, filepath.Join(filepath.Dir(path), p.Path))
				}
			}
		case strings.Contains(rel, "overlays") && !strings.Contains(string(b), "apiVersion:"):
			// An RFC 6902 patch: a list of operations.
			var ops []struct {
				Op    string `json:"op"`
				Path  string `json:"path"`
				From  string `json:"from,omitempty"`
				Value any    `json:"value,omitempty"`
			}
			if unmarshalYAMLStrict(t, rel, b, &ops) && len(ops) == 0 {
				t.Errorf("%s: empty JSON patch", rel)
			}
		default:
			var objs k8sObjects
			for i, doc := range splitYAMLDocs(b) {
				decodeK8s(t, fmt.Sprintf("%s[%d]", rel, i), doc, &objs)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 8 {
		t.Fatalf("only %d YAML files under deploy/kubernetes", seen)
	}
}

// kustomizeBuild runs kustomize in-process (the same krusty engine as
// `kubectl apply -k`) and decodes its output strictly.
func kustomizeBuild(t *testing.T, dir string) k8sObjects {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), repoPath(t, dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var objs k8sObjects
	for _, r := range m.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		if r.GetNamespace() != "jenkins" && r.GetKind() != "Namespace" {
			t.Errorf("%s %s: namespace %q, want jenkins", r.GetKind(), r.GetName(), r.GetNamespace())
		}
		decodeK8s(t, dir+": "+r.GetKind()+"/"+r.GetName(), b, &objs)
	}
	if len(objs.statefulSets) != 1 {
		t.Fatalf("%s: %d StatefulSets, want 1", dir, len(objs.statefulSets))
	}
	return objs
}

func findContainer(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// checkRestricted checks what Pod Security "restricted" and the issue ask of
// every container.
func checkRestricted(t *testing.T, where string, pod corev1.PodSpec, c *corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil {
		t.Errorf("%s: no securityContext", where)
		return
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	if !isTrue(sc.RunAsNonRoot) && !(pod.SecurityContext != nil && isTrue(pod.SecurityContext.RunAsNonRoot)) {
		t.Errorf("%s: runAsNonRoot not set", where)
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		t.Errorf("%s: readOnlyRootFilesystem not true", where)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation must be false", where)
	}
	if sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) != 0 {
		t.Errorf("%s: capabilities must drop ALL and add none", where)
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil && pod.SecurityContext != nil {
		seccomp = pod.SecurityContext.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccompProfile must be RuntimeDefault", where)
	}
}

// checkWatchdogContainer checks the watchdog container wherever it sits.
func checkWatchdogContainer(t *testing.T, where string, pod corev1.PodSpec, c *corev1.Container) {
	t.Helper()
	checkRestricted(t, where, pod, c)
	for _, e := range c.Env {
		checkEnvName(t, where, e.Name)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["JENKINS_URL"] == "" || env["WATCHDOG_PAIRS"] == "" {
		t.Errorf("%s: JENKINS_URL and WATCHDOG_PAIRS must be set", where)
	}
	if _, ok := env["JENKINS_API_TOKEN"]; ok {
		t.Errorf("%s: the token must come from a file, not JENKINS_API_TOKEN", where)
	}
	tokenFile := env["JENKINS_API_TOKEN_FILE"]
	var tokenFromSecret bool
	for _, m := range c.VolumeMounts {
		if tokenFile == "" || !strings.HasPrefix(tokenFile, m.MountPath+"/") {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name != m.Name || v.Secret == nil || !m.ReadOnly {
				continue
			}
			tokenFromSecret = true
			// On the first install the token can only be made once Jenkins
			// runs: the pod must start without the Secret.
			if v.Secret.Optional == nil || !*v.Secret.Optional {
				t.Errorf("%s: Secret volume %s must be optional: true, or the pod cannot start before the token exists", where, v.Name)
			}
		}
	}
	if !tokenFromSecret {
		t.Errorf("%s: JENKINS_API_TOKEN_FILE=%q is not inside a read-only Secret volume mount", where, tokenFile)
	}
	port := 0
	for _, p := range c.Ports {
		if p.Name == "metrics" {
			port = int(p.ContainerPort)
		}
	}
	if port != metricsPort {
		t.Errorf("%s: container port named metrics is %d, want %d", where, port, metricsPort)
	}
	if addr := env["WATCHDOG_LISTEN_ADDR"]; !strings.HasSuffix(addr, fmt.Sprintf(":%d", port)) {
		t.Errorf("%s: WATCHDOG_LISTEN_ADDR=%q does not listen on the metrics port %d", where, addr, port)
	}
	// Probes go to the health listener: plain HTTP with no credentials,
	// whatever the web configuration of the metrics port asks.
	healthPort := 0
	for _, p := range c.Ports {
		if p.Name == "health" {
			healthPort = int(p.ContainerPort)
		}
	}
	if healthPort != metricsHealthPort {
		t.Errorf("%s: container port named health is %d, want %d", where, healthPort, metricsHealthPort)
	}
	if addr := env["WATCHDOG_HEALTH_ADDR"]; !strings.HasSuffix(addr, fmt.Sprintf(":%d", healthPort)) {
		t.Errorf("%s: WATCHDOG_HEALTH_ADDR=%q does not listen on the health port %d", where, addr, healthPort)
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/livez" || p.HTTPGet.Port.String() != "health" {
		t.Errorf("%s: livenessProbe must be an HTTP GET of /livez on port health", where)
	}
	// A pod is Ready only when every container is: a readiness probe on the
	// watchdog would take Jenkins out of its own Service whenever the
	// watchdog cannot read Jenkins, first of all before its token exists.
	if c.ReadinessProbe != nil {
		t.Errorf("%s: no readinessProbe on the watchdog: it would keep Jenkins out of its Service while the watchdog waits for its token", where)
	}
	if c.StartupProbe != nil {
		t.Errorf("%s: a startupProbe on the sidecar would hold Jenkins back until the watchdog is up", where)
	}
	req, lim := c.Resources.Requests, c.Resources.Limits
	if req.Cpu().IsZero() || req.Memory().IsZero() || lim.Memory().IsZero() {
		t.Errorf("%s: CPU and memory requests and a memory limit are required", where)
	}
	if lim.Memory().Cmp(*req.Memory()) < 0 {
		t.Errorf("%s: memory limit below the request", where)
	}
	// GOMEMLIMIT counts only what the Go runtime holds, not the binary's
	// resident pages: set to the whole limit, the process would pass the
	// limit before the collector tries hard (docs/bounds.md).
	if gml, err := goMemLimit(env["GOMEMLIMIT"]); err != nil {
		t.Errorf("%s: GOMEMLIMIT: %v", where, err)
	} else if l := lim.Memory().Value(); gml*100 < l*80 || gml*100 > l*90 {
		t.Errorf("%s: GOMEMLIMIT=%s is %d%% of the memory limit %s, want 80 to 90%%", where, env["GOMEMLIMIT"], gml*100/l, lim.Memory())
	}
}

// goMemLimit reads a GOMEMLIMIT value as the Go runtime does: a number of
// bytes with an optional unit B, KiB, MiB, GiB or TiB.
func goMemLimit(v string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q: want a plain value such as 80MiB", v)
	}
	return n * mult, nil
}

func TestKustomizeBaseNativeSidecar(t *testing.T) {
	objs := kustomizeBuild(t, "deploy/kubernetes/base")
	sts := objs.statefulSets[0]
	pod := sts.Spec.Template.Spec
	wd := findContainer(pod.InitContainers, "watchdog")
	if wd == nil {
		t.Fatal("base: no init container named watchdog")
	}
	if wd.RestartPolicy == nil || *wd.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Error("base: the watchdog init container needs restartPolicy: Always to be a native sidecar")
	}
	if findContainer(pod.Containers, "watchdog") != nil {
		t.Error("base: watchdog is both an init container and a container")
	}
	checkWatchdogContainer(t, "base watchdog", pod, wd)
	jenkins := findContainer(pod.Containers, "jenkins")
	if jenkins == nil {
		t.Fatal("base: no jenkins container")
	}
	checkRestricted(t, "base jenkins", pod, jenkins)
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("base: the pod needs no Kubernetes API token (automountServiceAccountToken: false)")
	}
	checkMetricsServiceAndMonitor(t, objs, sts)
	checkJenkinsImage(t, "base", jenkins.Image)
}

func TestKustomizePre129Overlay(t *testing.T) {
	objs := kustomizeBuild(t, "deploy/kubernetes/overlays/pre-1.29")
	pod := objs.statefulSets[0].Spec.Template.Spec
	if len(pod.InitContainers) != 0 {
		t.Errorf("pre-1.29: init containers left: %d", len(pod.InitContainers))
	}
	wd := findContainer(pod.Containers, "watchdog")
	if wd == nil {
		t.Fatal("pre-1.29: watchdog is not a regular container")
	}
	if wd.RestartPolicy != nil {
		t.Error("pre-1.29: a regular container must not set restartPolicy")
	}
	checkWatchdogContainer(t, "pre-1.29 watchdog", pod, wd)
	checkMetricsServiceAndMonitor(t, objs, objs.statefulSets[0])
	if j := findContainer(pod.Containers, "jenkins"); j != nil {
		checkJenkinsImage(t, "pre-1.29", j.Image)
	}
}

// checkMetricsServiceAndMonitor follows the chain the Prometheus Operator
// follows: ServiceMonitor selector -> Service labels, endpoint port name ->
// Service port -> pod container port.
func checkMetricsServiceAndMonitor(t *testing.T, objs k8sObjects, sts *appsv1.StatefulSet) {
	t.Helper()
	var metricsSvc *corev1.Service
	for _, s := range objs.services {
		for _, p := range s.Spec.Ports {
			if p.Name == "metrics" {
				metricsSvc = s
			}
		}
	}
	if metricsSvc == nil {
		t.Fatal("no Service with a port named metrics")
	}
	checkMetricsService(t, metricsSvc.Name, metricsSvc)
	podLabels := sts.Spec.Template.Labels
	for k, v := range metricsSvc.Spec.Selector {
		if podLabels[k] != v {
			t.Errorf("metrics Service selector %s=%s does not match the pod", k, v)
		}
	}
	var selecting []*corev1.Service
	for _, s := range objs.services {
		if selects(s.Spec.Selector, podLabels) {
			selecting = append(selecting, s)
		}
	}
	if err := scrapedOnce(sts.Spec.Template.Annotations, selecting); err != nil {
		t.Error(err)
	}
	if len(objs.serviceMonitors) != 1 {
		t.Fatalf("%d ServiceMonitors, want 1", len(objs.serviceMonitors))
	}
	sm := objs.serviceMonitors[0]
	for k, v := range sm.Spec.Selector.MatchLabels {
		if metricsSvc.Labels[k] != v {
			t.Errorf("ServiceMonitor selector %s=%s does not match Service %s", k, v, metricsSvc.Name)
		}
	}
	checkServiceMonitor(t, sm, metricsSvc)
}

// checkServiceMonitor follows the Prometheus Operator from a ServiceMonitor
// to the metrics Service: selector to labels, endpoint port name to port.
func checkServiceMonitor(t *testing.T, sm *monitoringv1.ServiceMonitor, svc *corev1.Service) {
	t.Helper()
	if len(sm.Spec.Selector.MatchLabels) == 0 || !selects(sm.Spec.Selector.MatchLabels, svc.Labels) {
		t.Errorf("ServiceMonitor %s selector %v does not match Service %s labels %v", sm.Name, sm.Spec.Selector.MatchLabels, svc.Name, svc.Labels)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor %s must scrape port metrics, path /metrics", sm.Name)
	}
}

// checkMetricsService checks the Service a plain Prometheus scrapes through
// its annotations and the Prometheus Operator through a ServiceMonitor.
func checkMetricsService(t *testing.T, where string, svc *corev1.Service) {
	t.Helper()
	a := svc.Annotations
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != fmt.Sprint(metricsPort) || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("%s: prometheus.io annotations %v, want scrape true, port %d, path /metrics", where, a, metricsPort)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses {
		t.Errorf("%s: must be headless and publish not-ready addresses, so the watchdog is scraped while the pod is not Ready", where)
	}
	var found bool
	for _, p := range svc.Spec.Ports {
		if p.Name == "metrics" {
			found = true
			if p.Port != metricsPort || p.TargetPort.String() != "metrics" {
				t.Errorf("%s: port metrics is %d -> %s, want %d -> metrics", where, p.Port, p.TargetPort.String(), metricsPort)
			}
		}
	}
	if !found {
		t.Errorf("%s: no port named metrics", where)
	}
}

// selects reports whether a label selector (all pairs must match) picks an
// object with these labels. An empty selector selects nothing here.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// scrapedOnce returns an error when both the pod and a Service that selects
// it carry prometheus.io/scrape: "true": the usual plain-Prometheus configuration
// (a "pods" job and a "service endpoints" job, as in the prometheus-community
// chart) would then scrape the watchdog twice. The Prometheus Operator
// ignores the annotations and scrapes through the ServiceMonitor alone.
func scrapedOnce(podAnnotations map[string]string, services []*corev1.Service) error {
	if podAnnotations["prometheus.io/scrape"] != "true" {
		return nil
	}
	for _, s := range services {
		if s.Annotations["prometheus.io/scrape"] == "true" {
			return fmt.Errorf("both the pod and Service %s carry prometheus.io/scrape: a plain Prometheus would scrape the watchdog twice; keep it on the Service only", s.Name)
		}
	}
	return nil
}

func TestScrapedOnce(t *testing.T) {
	annotated := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "m", Annotations: map[string]string{"prometheus.io/scrape": "true"}}}
	plain := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "jenkins"}}
	scrape := map[string]string{"prometheus.io/scrape": "true"}
	for _, tc := range []struct {
		name string
		pod  map[string]string
		svcs []*corev1.Service
		ok   bool
	}{
		{"service only", nil, []*corev1.Service{annotated, plain}, true},
		{"pod only", scrape, []*corev1.Service{plain}, true},
		{"pod and service", scrape, []*corev1.Service{plain, annotated}, false},
		{"pod opted out, service", map[string]string{"prometheus.io/scrape": "false"}, []*corev1.Service{annotated}, true},
	} {
		if err := scrapedOnce(tc.pod, tc.svcs); (err == nil) != tc.ok {
			t.Errorf("%s: scrapedOnce = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
