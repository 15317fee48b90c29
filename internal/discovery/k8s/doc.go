// Package k8s is the Kubernetes autocluster strategy (cluster.discovery =
// k8s). It owns the cluster.k8s.* keys: their Config, defaults and rules
// (Validate, which package config runs when it loads the configuration),
// and talking to the Kubernetes API server: listing the ready endpoints of
// cluster.k8s.service_name through the EndpointSlice API
// (discovery.k8s.io/v1), falling back to the core Endpoints API where
// EndpointSlices are not served, authenticating with the pod's
// service-account token and trusting its CA (Options), and turning the
// endpoint addresses into node names (app@ip, app@a-b-c-d.<namespace>.<suffix>
// or app@<hostname>.<service>.<namespace>.<suffix>, after
// cluster.k8s.address_type). New takes a validated Config. It only finds
// names; joining is the loop's job (package discovery).
package k8s
