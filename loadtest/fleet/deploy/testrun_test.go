package deploy

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRun is the part of the k6 operator's TestRun (k6.io/v1alpha1) that
// deploy/ uses. It is declared here rather than imported so that the nested
// module does not depend on the operator; decoded with unknown fields
// disallowed, it fails on any field deploy/ sets that is not one of these.
// The field names and JSON keys follow the operator's TestRunSpec.
type TestRun struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              TestRunSpec `json:"spec"`
}

// TestRunSpec is the spec of a TestRun.
type TestRunSpec struct {
	// Parallelism is the number of runner pods, each running a segment of
	// the test.
	Parallelism int32 `json:"parallelism"`
	// Script names the k6 script or archive to run.
	Script K6Script `json:"script"`
	// Arguments are added to `k6 run`.
	Arguments string `json:"arguments,omitempty"`
	// Separate puts each runner on its own node.
	Separate bool `json:"separate,omitempty"`
	// Cleanup "post" deletes the runners once the test is over.
	Cleanup string `json:"cleanup,omitempty"`
	// Runner configures the runner pods.
	Runner Pod `json:"runner,omitempty"`
}

// K6Script locates the script of a TestRun.
type K6Script struct {
	ConfigMap *K6Configmap `json:"configMap,omitempty"`
}

// K6Configmap is a script (or k6 archive) in a ConfigMap: the key File of
// the ConfigMap Name.
type K6Configmap struct {
	Name string `json:"name"`
	File string `json:"file,omitempty"`
}

// Pod is the part of the operator's runner pod settings deploy/ uses.
type Pod struct {
	Image           string                      `json:"image,omitempty"`
	Env             []corev1.EnvVar             `json:"env,omitempty"`
	Resources       corev1.ResourceRequirements `json:"resources,omitempty"`
	SecurityContext corev1.PodSecurityContext   `json:"securityContext,omitempty"`
}
