package frontend

import (
	"github.com/autocache/autocache/llbtransform"
	"github.com/autocache/autocache/optout"
	"github.com/moby/buildkit/solver/pb"
)

// withFileSettings narrows opt by what the Dockerfile that def was
// converted from says about autocache (package optout), read from the
// definition's source info: dockerfile2llb embeds the Dockerfile there,
// so the frontend reads nothing more than upstream did. off means the
// file turns autocache off: def goes to the solver as it is. A setting
// that can't be read fails the build, with its Dockerfile line.
func withFileSettings(def *pb.Definition, opt llbtransform.Options) (_ llbtransform.Options, off bool, _ error) {
	info := optout.Dockerfile(def)
	if info == nil {
		return opt, false, nil
	}
	f, err := optout.Read(info.Data)
	if err != nil {
		return opt, false, optout.WithSource(err, info)
	}
	off, opt.Managers = f.Narrow(false, opt.Managers)
	opt.Off = f.LeftAlone()
	return opt, off, nil
}
