// Package deploy holds the test that renders the repository's Kubernetes
// kustomization (deploy/base) with sigs.k8s.io/kustomize/api, as
// `kubectl apply -k` would, and strictly decodes every object it yields into
// its Go type: k8s.io/api for the Deployment, Service and ConfigMap,
// prometheus-operator's monitoring/v1 for the PodMonitor, and TestRun, a
// local type holding the fields of the k6 operator's TestRun that deploy/
// uses. A field misspelt or misplaced in the YAML fails the test, as an
// unknown field fails with kubectl's strict server-side validation.
//
// No cluster is involved: what a cluster does with the objects (the
// operators, the image, the network) is not proven here.
package deploy
