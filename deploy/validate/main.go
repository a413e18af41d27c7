// Command validate checks rendered Kubernetes manifests (multi-document YAML on stdin or in the files
// named as arguments) before they reach a cluster:
//
//   - strict decoding into the Kubernetes API types, so a misspelt or misplaced field fails here
//     instead of being dropped by the API server or surfacing as a runtime surprise;
//   - references inside the rendered set: selectors against pod labels, probe ports against container
//     ports, ConfigMaps, Secrets, ServiceAccounts and PVCs named by pods, PDB and HPA targets;
//   - the project's conventions for its own services (component=service): Deployment, Service and
//     ServiceAccount sharing a name, gRPC health probes, non-root, resource requests and limits.
//
// It prints every problem found and exits 1 if there is any.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

type object struct {
	source string
	obj    runtime.Object
}

type checker struct {
	problems []string
}

func (c *checker) errorf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func main() {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, autoscalingv2.AddToScheme, batchv1.AddToScheme,
		networkingv1.AddToScheme, policyv1.AddToScheme, rbacv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	decoder := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()

	inputs := os.Args[1:]
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	c := &checker{}
	var objects []object
	for _, name := range inputs {
		objs, err := decodeAll(decoder, name)
		if err != nil {
			c.errorf("%v", err)
		}
		objects = append(objects, objs...)
	}
	if len(objects) == 0 && len(c.problems) == 0 {
		c.errorf("no Kubernetes objects in the input")
	}
	c.checkReferences(objects)

	if len(c.problems) > 0 {
		for _, p := range c.problems {
			fmt.Fprintln(os.Stderr, "invalid:", p)
		}
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "validate: %d objects, no problems\n", len(objects))
}

func decodeAll(decoder runtime.Decoder, name string) ([]object, error) {
	var r io.Reader
	if name == "-" {
		r = os.Stdin
		name = "stdin"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var out []object
	var problems []string
	for i := 1; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 || isOnlyComments(doc) {
			continue
		}
		obj, gvk, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: document %d: %v", name, i, err))
			continue
		}
		source := fmt.Sprintf("%s %s", gvk.Kind, nameOf(obj))
		out = append(out, object{source: source, obj: obj})
	}
	if len(problems) > 0 {
		return out, errors.New(strings.Join(problems, "\n"))
	}
	return out, nil
}

func isOnlyComments(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && line != "---" {
			return false
		}
	}
	return true
}

func nameOf(obj runtime.Object) string {
	if m, ok := obj.(interface {
		GetName() string
		GetNamespace() string
	}); ok {
		if m.GetNamespace() != "" {
			return m.GetNamespace() + "/" + m.GetName()
		}
		return m.GetName()
	}
	return "?"
}

type workload struct {
	kind     string
	name     string
	labels   map[string]string
	selector map[string]string
	template corev1.PodTemplateSpec
}

func (c *checker) checkReferences(objects []object) {
	byKind := map[string]map[string]bool{}
	seen := map[string]bool{}
	add := func(kind, name string) {
		if byKind[kind] == nil {
			byKind[kind] = map[string]bool{}
		}
		byKind[kind][name] = true
	}
	var workloads []workload
	// Jobs' pods are checked like the others' (volumes, env, service accounts); Kubernetes makes their selectors.
	var jobs []workload
	var services []*corev1.Service
	var pdbs []*policyv1.PodDisruptionBudget
	var hpas []*autoscalingv2.HorizontalPodAutoscaler
	for _, o := range objects {
		if seen[o.source] {
			c.errorf("%s: defined twice", o.source)
		}
		seen[o.source] = true
		switch v := o.obj.(type) {
		case *appsv1.Deployment:
			add("Deployment", v.Name)
			workloads = append(workloads, workload{"Deployment", v.Name, v.Labels, selectorLabels(c, o.source, v.Spec.Selector), v.Spec.Template})
		case *appsv1.StatefulSet:
			add("StatefulSet", v.Name)
			w := workload{"StatefulSet", v.Name, v.Labels, selectorLabels(c, o.source, v.Spec.Selector), v.Spec.Template}
			workloads = append(workloads, w)
			for _, t := range v.Spec.VolumeClaimTemplates {
				add("PersistentVolumeClaim@"+v.Name, t.Name)
			}
		case *batchv1.Job:
			add("Job", v.Name)
			jobs = append(jobs, workload{"Job", v.Name, v.Labels, nil, v.Spec.Template})
		case *corev1.Service:
			add("Service", v.Name)
			services = append(services, v)
		case *corev1.ServiceAccount:
			add("ServiceAccount", v.Name)
		case *corev1.ConfigMap:
			add("ConfigMap", v.Name)
		case *corev1.Secret:
			add("Secret", v.Name)
		case *corev1.PersistentVolumeClaim:
			add("PersistentVolumeClaim", v.Name)
		case *policyv1.PodDisruptionBudget:
			pdbs = append(pdbs, v)
		case *autoscalingv2.HorizontalPodAutoscaler:
			hpas = append(hpas, v)
		}
	}

	for _, w := range workloads {
		src := w.kind + " " + w.name
		if len(w.selector) == 0 {
			c.errorf("%s: empty selector", src)
		} else if !labels.SelectorFromSet(w.selector).Matches(labels.Set(w.template.Labels)) {
			c.errorf("%s: selector %v does not match the pod template labels %v", src, w.selector, w.template.Labels)
		}
		c.checkPod(src, w, byKind)
	}

	for _, j := range jobs {
		src := "Job " + j.name
		if p := j.template.Spec.RestartPolicy; p != corev1.RestartPolicyNever && p != corev1.RestartPolicyOnFailure {
			c.errorf("%s: restartPolicy must be Never or OnFailure, not %q", src, p)
		}
		c.checkPod(src, j, byKind)
	}

	for _, s := range services {
		if len(s.Spec.Selector) == 0 {
			continue
		}
		matched := false
		for _, w := range workloads {
			if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(w.template.Labels)) {
				matched = true
				for _, p := range s.Spec.Ports {
					if p.TargetPort.Type == intstr.String && !hasContainerPort(w.template.Spec, p.TargetPort.StrVal) {
						c.errorf("Service %s: targetPort %q is not a port of %s %s", s.Name, p.TargetPort.StrVal, w.kind, w.name)
					}
				}
			}
		}
		if !matched {
			c.errorf("Service %s: selector %v matches no pod template", s.Name, s.Spec.Selector)
		}
	}

	for _, p := range pdbs {
		sel := selectorLabels(c, "PodDisruptionBudget "+p.Name, p.Spec.Selector)
		matched := false
		for _, w := range workloads {
			if len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(w.template.Labels)) {
				matched = true
			}
		}
		if !matched {
			c.errorf("PodDisruptionBudget %s: selector matches no pod template", p.Name)
		}
	}

	for _, h := range hpas {
		ref := h.Spec.ScaleTargetRef
		if !byKind[ref.Kind][ref.Name] {
			c.errorf("HorizontalPodAutoscaler %s: target %s %s is not in the manifests", h.Name, ref.Kind, ref.Name)
		}
		if h.Spec.MinReplicas != nil && *h.Spec.MinReplicas > h.Spec.MaxReplicas {
			c.errorf("HorizontalPodAutoscaler %s: minReplicas %d > maxReplicas %d", h.Name, *h.Spec.MinReplicas, h.Spec.MaxReplicas)
		}
		for _, w := range workloads {
			if w.kind == ref.Kind && w.name == ref.Name {
				for _, ctr := range w.template.Spec.Containers {
					for _, m := range h.Spec.Metrics {
						if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil {
							if _, ok := ctr.Resources.Requests[m.Resource.Name]; !ok {
								c.errorf("HorizontalPodAutoscaler %s: scales on %s utilisation but container %s requests no %s", h.Name, m.Resource.Name, ctr.Name, m.Resource.Name)
							}
						}
					}
				}
			}
		}
		for _, o := range objects {
			if d, ok := o.obj.(*appsv1.Deployment); ok && d.Name == ref.Name && ref.Kind == "Deployment" && d.Spec.Replicas != nil {
				c.errorf("Deployment %s: sets replicas although HorizontalPodAutoscaler %s owns the count", d.Name, h.Name)
			}
		}
	}

	// The project's own services.
	for _, w := range workloads {
		if w.kind != "Deployment" || w.labels["app.kubernetes.io/component"] != "service" {
			continue
		}
		if !byKind["Service"][w.name] {
			c.errorf("Deployment %s: no Service of the same name", w.name)
		}
		if !byKind["ServiceAccount"][w.name] {
			c.errorf("Deployment %s: no ServiceAccount of the same name", w.name)
		}
		if w.template.Spec.ServiceAccountName != w.name {
			c.errorf("Deployment %s: runs as ServiceAccount %q, not its own", w.name, w.template.Spec.ServiceAccountName)
		}
		hasPDB := false
		for _, p := range pdbs {
			sel := selectorLabels(c, "", p.Spec.Selector)
			if len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(w.template.Labels)) {
				hasPDB = true
			}
		}
		if !hasPDB {
			c.errorf("Deployment %s: no PodDisruptionBudget", w.name)
		}
		psc := w.template.Spec.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
			c.errorf("Deployment %s: pod securityContext must set runAsNonRoot: true", w.name)
		}
		for _, ctr := range w.template.Spec.Containers {
			src := fmt.Sprintf("Deployment %s container %s", w.name, ctr.Name)
			for probeName, p := range map[string]*corev1.Probe{"liveness": ctr.LivenessProbe, "readiness": ctr.ReadinessProbe} {
				if p == nil || p.GRPC == nil {
					c.errorf("%s: %s probe must use grpc (grpc.health.v1)", src, probeName)
				} else if !hasContainerPortNumber(ctr, p.GRPC.Port) {
					c.errorf("%s: %s probe port %d is not a container port", src, probeName, p.GRPC.Port)
				}
			}
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := ctr.Resources.Requests[res]; !ok {
					c.errorf("%s: no %s request", src, res)
				}
				if _, ok := ctr.Resources.Limits[res]; !ok {
					c.errorf("%s: no %s limit", src, res)
				}
			}
			sc := ctr.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				c.errorf("%s: readOnlyRootFilesystem must be true", src)
			}
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				c.errorf("%s: allowPrivilegeEscalation must be false", src)
			}
		}
	}
	sort.Strings(c.problems)
}

func (c *checker) checkPod(src string, w workload, byKind map[string]map[string]bool) {
	spec := w.template.Spec
	if sa := spec.ServiceAccountName; sa != "" && sa != "default" && !byKind["ServiceAccount"][sa] {
		c.errorf("%s: ServiceAccount %q is not in the manifests", src, sa)
	}
	volumes := map[string]bool{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = true
		if v.ConfigMap != nil && !byKind["ConfigMap"][v.ConfigMap.Name] && !isOptional(v.ConfigMap.Optional) {
			c.errorf("%s: volume %s: ConfigMap %q is not in the manifests", src, v.Name, v.ConfigMap.Name)
		}
		if v.PersistentVolumeClaim != nil && !byKind["PersistentVolumeClaim"][v.PersistentVolumeClaim.ClaimName] {
			c.errorf("%s: volume %s: PersistentVolumeClaim %q is not in the manifests", src, v.Name, v.PersistentVolumeClaim.ClaimName)
		}
	}
	for name := range byKind["PersistentVolumeClaim@"+w.name] {
		volumes[name] = true
	}
	containers := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, ctr := range containers {
		csrc := fmt.Sprintf("%s container %s", src, ctr.Name)
		if ctr.Image == "" {
			c.errorf("%s: no image", csrc)
		}
		for _, m := range ctr.VolumeMounts {
			if !volumes[m.Name] {
				c.errorf("%s: mounts volume %q, which the pod does not define", csrc, m.Name)
			}
		}
		for _, e := range ctr.EnvFrom {
			if e.ConfigMapRef != nil && !isOptional(e.ConfigMapRef.Optional) && !byKind["ConfigMap"][e.ConfigMapRef.Name] {
				c.errorf("%s: envFrom ConfigMap %q is not in the manifests", csrc, e.ConfigMapRef.Name)
			}
			if e.SecretRef != nil && !isOptional(e.SecretRef.Optional) && !byKind["Secret"][e.SecretRef.Name] {
				c.errorf("%s: envFrom Secret %q is not in the manifests and is not optional", csrc, e.SecretRef.Name)
			}
		}
		for _, e := range ctr.Env {
			if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil && !isOptional(e.ValueFrom.ConfigMapKeyRef.Optional) &&
				!byKind["ConfigMap"][e.ValueFrom.ConfigMapKeyRef.Name] {
				c.errorf("%s: env %s: ConfigMap %q is not in the manifests", csrc, e.Name, e.ValueFrom.ConfigMapKeyRef.Name)
			}
		}
		for probeName, p := range map[string]*corev1.Probe{"liveness": ctr.LivenessProbe, "readiness": ctr.ReadinessProbe, "startup": ctr.StartupProbe} {
			if p == nil {
				continue
			}
			var port *intstr.IntOrString
			switch {
			case p.HTTPGet != nil:
				port = &p.HTTPGet.Port
			case p.TCPSocket != nil:
				port = &p.TCPSocket.Port
			}
			if port != nil && port.Type == intstr.String && !hasContainerPort(spec, port.StrVal) {
				c.errorf("%s: %s probe names port %q, which the container does not declare", csrc, probeName, port.StrVal)
			}
		}
	}
}

// selectorLabels returns a selector's matchLabels; matchExpressions are not used in these manifests and
// count as a problem, so that a selector the checks cannot follow does not pass unseen.
func selectorLabels(c *checker, src string, s *metav1.LabelSelector) map[string]string {
	if s == nil || len(s.MatchLabels) == 0 {
		if src != "" {
			c.errorf("%s: no matchLabels in the selector", src)
		}
		return nil
	}
	if len(s.MatchExpressions) > 0 && src != "" {
		c.errorf("%s: matchExpressions are not supported by these checks", src)
	}
	return s.MatchLabels
}

func hasContainerPort(spec corev1.PodSpec, name string) bool {
	for _, ctr := range spec.Containers {
		for _, p := range ctr.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func hasContainerPortNumber(ctr corev1.Container, port int32) bool {
	for _, p := range ctr.Ports {
		if p.ContainerPort == port {
			return true
		}
	}
	return false
}

func isOptional(b *bool) bool { return b != nil && *b }
