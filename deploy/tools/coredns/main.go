// CoreDNS with only the plugins make test-cluster's cluster DNS uses (the
// upstream binary links every plugin, cloud SDKs included): names of Services
// and Pods from the API (kubernetes), a cache, readiness and liveness
// endpoints, errors and a query log. The Corefile is in deploy/cluster/test.
package main

import (
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"

	"github.com/coredns/coredns/coremain"
)

func main() {
	coremain.Run()
}
