// Package deploycheck holds the tests of the shipping side of
// jenkins-failover-watchdog: the Dockerfile, docker-compose.yml and its lab
// files, the Kubernetes manifests, the Prometheus rules and the Grafana
// dashboard. It is a module of its own so that its heavy dependencies
// (Kubernetes API types, kustomize, BuildKit's Dockerfile parser, the PromQL
// parser) stay out of the daemon's go.mod.
//
// Run it from the repository root with scripts/verify-deploy.sh, or
//
//	cd tools/deploycheck && go test ./...
package deploycheck
