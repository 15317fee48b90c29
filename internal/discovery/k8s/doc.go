// Package k8s is the Kubernetes autocluster strategy (cluster.discovery =
// k8s, keys cluster.k8s.*). It owns talking to the Kubernetes API server:
// listing the ready endpoints of cluster.k8s.service_name through the
// EndpointSlice API (discovery.k8s.io/v1), falling back to the core Endpoints
// API where EndpointSlices are not served, authenticating with the pod's
// service-account token and trusting its CA, and turning the endpoint
// addresses into node names (app@ip, app@a-b-c-d.<namespace>.<suffix> or
// app@<hostname>.<service>.<namespace>.<suffix>, after
// cluster.k8s.address_type). It only finds names; joining is the loop's job
// (package discovery).
package k8s
