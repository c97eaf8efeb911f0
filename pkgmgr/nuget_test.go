package pkgmgr

import "testing"

var (
	nugetRoot = []string{"/root/.local/share/NuGet/v3-cache locked 0:0"}
	// mcr.microsoft.com/dotnet/sdk:9.0 image
	dotnetEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/root/.dotnet/tools",
		"APP_UID=1654", "DOTNET_RUNNING_IN_CONTAINER=true", "DOTNET_VERSION=9.0.0", "DOTNET_SDK_VERSION=9.0.100",
		"NUGET_XMLDOC_MODE=skip"}
)

// Shapes from the corpus (dotnet-docker samples, awesome-compose aspnet,
// example-voting-app worker) and .NET Dockerfiles.
func TestNuget(t *testing.T) { runCases(t, nugetCases) }

func init() { registerCases("nuget", nugetCases) }

var nugetCases = []tcase{{
	name: "restore: the HTTP cache, never ~/.nuget/packages", in: "dotnet restore", env: dotnetEnv, cwd: "/source",
	caches: nugetRoot, notes: []string{"nuget: cache /root/.local/share/NuGet/v3-cache (locked)"},
}, {
	name: "publish restores too", in: "dotnet publish -c Release -o /app", env: dotnetEnv, caches: nugetRoot,
}, {
	name: "dotnet-docker sample: publish --no-restore after a restore step", in: "dotnet publish --no-restore -o /app",
	env: dotnetEnv, none: true,
}, {
	name: "restore --no-cache dropped", in: "dotnet restore --no-cache -r linux-musl-x64", env: dotnetEnv,
	out: "dotnet restore -r linux-musl-x64", caches: nugetRoot,
}, {
	name: "NUGET_HTTP_CACHE_PATH", in: "dotnet restore", env: withEnv(dotnetEnv, "NUGET_HTTP_CACHE_PATH=/cache/nuget-http"),
	caches: []string{"/cache/nuget-http locked 0:0"},
}, {
	name: "locals http-cache --clear goes", in: "dotnet restore && dotnet nuget locals http-cache --clear", env: dotnetEnv,
	out: "dotnet restore && true", caches: nugetRoot,
}, {
	name: "azurelinux sdk: locals all --clear also empties the global packages folder",
	in:   "dotnet tool install --global dotnet-ef && dotnet nuget locals all --clear", env: dotnetEnv,
	notes: []string{"skipped /root/.local/share/NuGet/v3-cache: `dotnet nuget locals all --clear` also removes /root/.nuget/packages"},
}, {
	name: "add package", in: "dotnet add package Newtonsoft.Json --version 13.0.3", env: dotnetEnv, caches: nugetRoot,
}, {
	name: "numeric app user with HOME", in: "dotnet restore", user: "1654", env: withEnv(dotnetEnv, "HOME=/home/app"),
	caches: []string{"/home/app/.local/share/NuGet/v3-cache locked 1654:0"},
}, {
	name: "mono nuget restore", in: "nuget restore MyApp.sln", env: debianEnv, caches: nugetRoot,
}, {
	name: "info, new, build --no-restore: none", in: "dotnet --info && dotnet new console -o app && dotnet build --no-restore",
	env: dotnetEnv, none: true,
}}
