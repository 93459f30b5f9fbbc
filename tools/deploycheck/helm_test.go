package deploycheck

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// What the official Jenkins chart (jenkinsci/helm-charts, charts/jenkins)
// does with the values deploy/helm/values-watchdog.yaml sets, read from the
// chart's templates/jenkins-controller-statefulset.yaml and values.yaml:
//   - controller.sidecars.additionalSidecarContainers is rendered with tpl
//     into the pod's containers, after Jenkins;
//   - persistence.volumes is rendered with tpl into the pod's volumes;
//   - the controller pod carries app.kubernetes.io/component:
//     <controller.componentName, default jenkins-controller> and
//     app.kubernetes.io/instance: <release name> (the StatefulSet's selector),
//     plus app.kubernetes.io/name: jenkins and managed-by: Helm;
//   - Jenkins listens on controller.targetPort (default 8080) under
//     controller.jenkinsUriPrefix (default empty).
var (
	chartControllerPodLabels = map[string]string{
		"app.kubernetes.io/name":       "jenkins",
		"app.kubernetes.io/managed-by": "Helm",
		"app.kubernetes.io/component":  "jenkins-controller",
		"app.kubernetes.io/instance":   helmReleaseName,
	}
	// The chart's own pod volumes: ours must not collide with them, and the
	// chart drops its jenkins-home volume when persistence.volumes mentions
	// "jenkins-home" anywhere.
	chartVolumes = []string{"jenkins-home", "jenkins-config", "jenkins-cache", "tmp-volume", "sc-config-volume",
		"plugin-dir", "plugins", "init-scripts", "jenkins-secrets", "jenkins-https-keystore",
		"auto-reload-config", "auto-reload-config-logs"}
)

// helmReleaseName is the release name the commands of docs/deployment.md and
// deploy/helm/metrics-service.yaml use.
const helmReleaseName = "jenkins"

// chartValues is the part of the chart's values the snippet may set.
// Decoded strictly: any other key fails, so a typo or an option the chart
// does not have cannot pass silently.
type chartValues struct {
	Controller struct {
		Sidecars struct {
			AdditionalSidecarContainers []corev1.Container `json:"additionalSidecarContainers"`
		} `json:"sidecars"`
	} `json:"controller"`
	Persistence struct {
		Volumes []corev1.Volume `json:"volumes"`
	} `json:"persistence"`
}

// renderChartTemplates fills in the template expressions the snippet uses
// the way the chart's tpl would, and fails on any other expression.
func renderChartTemplates(t *testing.T, src []byte, targetPort int, uriPrefix string) []byte {
	t.Helper()
	out := bytes.ReplaceAll(src, []byte(`{{ .Values.controller.targetPort }}`), []byte(fmt.Sprint(targetPort)))
	out = bytes.ReplaceAll(out, []byte(`{{ default "" .Values.controller.jenkinsUriPrefix }}`), []byte(uriPrefix))
	if i := bytes.Index(out, []byte("{{")); i >= 0 {
		line := 1 + bytes.Count(src[:min(i, len(src))], []byte("\n"))
		t.Fatalf("deploy/helm/values-watchdog.yaml: a template expression this test does not know, near line %d: %s", line, out[i:min(i+60, len(out))])
	}
	return out
}

func loadChartValues(t *testing.T, targetPort int, uriPrefix string) chartValues {
	t.Helper()
	var v chartValues
	src := readRepoFile(t, "deploy", "helm", "values-watchdog.yaml")
	if !unmarshalYAMLStrict(t, "deploy/helm/values-watchdog.yaml", renderChartTemplates(t, src, targetPort, uriPrefix), &v) {
		t.FailNow()
	}
	return v
}

// TestHelmValuesWatchdogContainer decodes the snippet's container strictly
// into a Kubernetes Container and holds it to the same rules as the
// kustomize sidecar: variables the daemon reads, token from a read-only,
// optional Secret volume, liveness on /livez and no readiness probe,
// restricted security context, resources, the metrics port.
func TestHelmValuesWatchdogContainer(t *testing.T) {
	v := loadChartValues(t, 8080, "")
	cs := v.Controller.Sidecars.AdditionalSidecarContainers
	if len(cs) != 1 || cs[0].Name != "watchdog" {
		t.Fatalf("additionalSidecarContainers: want exactly one container named watchdog, got %d", len(cs))
	}
	c := &cs[0]
	pod := corev1.PodSpec{Volumes: v.Persistence.Volumes}
	checkWatchdogContainer(t, "helm values watchdog", pod, c)
	if !strings.Contains(c.Image, ":") {
		t.Errorf("helm values watchdog: image %s has no tag", c.Image)
	}
	for _, vol := range v.Persistence.Volumes {
		for _, taken := range chartVolumes {
			if vol.Name == taken {
				t.Errorf("persistence.volumes: %s is a volume the chart already defines", vol.Name)
			}
		}
	}
	if strings.Contains(fmt.Sprint(v.Persistence.Volumes), "jenkins-home") {
		t.Error("persistence.volumes mentions jenkins-home: the chart would then drop its own jenkins-home volume")
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if got := env["JENKINS_URL"]; got != "http://127.0.0.1:8080/" {
		t.Errorf("JENKINS_URL renders to %q with the chart's defaults, want http://127.0.0.1:8080/", got)
	}
	// With controller.jenkinsUriPrefix and another targetPort, the URL follows.
	v = loadChartValues(t, 8081, "/jenkins")
	for _, e := range v.Controller.Sidecars.AdditionalSidecarContainers[0].Env {
		if e.Name == "JENKINS_URL" && e.Value != "http://127.0.0.1:8081/jenkins/" {
			t.Errorf("JENKINS_URL renders to %q with targetPort 8081 and prefix /jenkins, want http://127.0.0.1:8081/jenkins/", e.Value)
		}
	}
}

// TestHelmMetricsServiceAndMonitor decodes the Service and ServiceMonitor
// shipped for chart users and follows the chain: ServiceMonitor -> Service
// -> the chart's controller pod labels -> the snippet's metrics port.
func TestHelmMetricsServiceAndMonitor(t *testing.T) {
	var objs k8sObjects
	for _, f := range []string{"metrics-service.yaml", "servicemonitor.yaml"} {
		for i, doc := range splitYAMLDocs(readRepoFile(t, "deploy", "helm", f)) {
			decodeK8s(t, fmt.Sprintf("deploy/helm/%s[%d]", f, i), doc, &objs)
		}
	}
	if len(objs.services) != 1 || len(objs.serviceMonitors) != 1 || len(objs.statefulSets) != 0 || objs.others != 0 {
		t.Fatalf("deploy/helm: want one Service and one ServiceMonitor, got %d and %d (+%d others)",
			len(objs.services), len(objs.serviceMonitors), len(objs.statefulSets)+objs.others)
	}
	svc, sm := objs.services[0], objs.serviceMonitors[0]
	checkMetricsService(t, "deploy/helm/metrics-service.yaml", svc)
	want := map[string]string{
		"app.kubernetes.io/component": chartControllerPodLabels["app.kubernetes.io/component"],
		"app.kubernetes.io/instance":  helmReleaseName,
	}
	if fmt.Sprint(svc.Spec.Selector) != fmt.Sprint(want) {
		t.Errorf("deploy/helm/metrics-service.yaml: selector %v, want the chart's controller selector %v", svc.Spec.Selector, want)
	}
	if !selects(svc.Spec.Selector, chartControllerPodLabels) {
		t.Errorf("deploy/helm/metrics-service.yaml: selector %v does not select the chart's controller pod %v", svc.Spec.Selector, chartControllerPodLabels)
	}
	// Only the Service asks to be scraped: the snippet cannot annotate the
	// pod, strict decoding refuses controller.podAnnotations.
	checkServiceMonitor(t, sm, svc)
}
