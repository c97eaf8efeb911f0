// Command autocache-frontend is the entrypoint of the autocache frontend image.
package main

import (
	"fmt"
	"os"

	"github.com/autocache/autocache/cachearchive"
	"github.com/autocache/autocache/frontend"
	"github.com/moby/buildkit/frontend/gateway/grpcclient"
	"github.com/moby/buildkit/util/appcontext"
	_ "github.com/moby/buildkit/util/grpcutil/encoding/proto" // upstream's grpc codec, as in dockerfile-frontend
)

// version is set at link time (-X main.version=…).
var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println("autocache-frontend", version)
		return
	}
	// Hidden: the helper that `autocache cache export|import` runs in a
	// build step of this image, on a mounted cache.
	if len(os.Args) > 1 && os.Args[1] == cachearchive.HelperCommand {
		os.Exit(cachearchive.Main(appcontext.Context(), os.Args[2:], os.Stderr))
	}
	frontend.Version = version
	if err := grpcclient.RunFromEnvironment(appcontext.Context(), frontend.Build); err != nil {
		fmt.Fprintf(os.Stderr, "autocache-frontend: %v\n", err)
		os.Exit(1)
	}
}
