// Command autocache-frontend is the entrypoint of the autocache frontend image.
package main

import (
	"fmt"
	"os"

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
	frontend.Version = version
	if err := grpcclient.RunFromEnvironment(appcontext.Context(), frontend.Build); err != nil {
		fmt.Fprintf(os.Stderr, "autocache-frontend: %v\n", err)
		os.Exit(1)
	}
}
