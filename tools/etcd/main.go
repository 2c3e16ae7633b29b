// Command etcd is etcd's server, built from its published Go module
// (go.etcd.io/etcd/server/v3) at the release this go.mod pins. etcd's own
// command module (go.etcd.io/etcd/v3, whose main is this one call) replaces
// its sibling modules with folders of its repository, so it cannot be built
// from a module download; this main is the same program.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
