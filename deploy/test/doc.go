// Package deploytest checks the shipped Kubernetes deployment without a
// cluster: it renders the Helm chart (deploy/helm/dirbridge) with Helm's
// own engine and reads the kustomize manifests (deploy/kubernetes), decodes
// every object strictly into the Kubernetes API types, checks what a
// production deployment relies on (non-root with fsGroup, probes,
// disruption budget, anti-affinity, a digest-pinned image, the config
// mounted as a directory), and runs dirbridge's config check on each
// config with the Secret's files where the pod would see them.
//
// It is a module of its own because Helm and the Kubernetes API types bring
// about sixty modules that dirbridge itself never links; `make test` and
// `make check` run it.
package deploytest
