package pkgmgr

import "testing"

var (
	condaPkgs = []string{"/opt/conda/pkgs locked 0:0"}
	// continuumio/miniconda3
	minicondaEnv = []string{"PATH=/opt/conda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	// mambaorg/micromamba
	micromambaEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "MAMBA_ROOT_PREFIX=/opt/conda",
		"MAMBA_EXE=/bin/micromamba", "ENV_NAME=base", "MAMBA_USER=mambauser"}
	// jupyter/docker-stacks-foundation
	jupyterEnv = []string{"CONDA_DIR=/opt/conda", "SHELL=/bin/bash", "NB_USER=jovyan", "NB_UID=1000", "NB_GID=100",
		"PATH=/opt/conda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/home/jovyan"}
)

// Shapes from the corpus (ContinuumIO, jupyter docker-stacks,
// micromamba-docker) and conda/mamba Dockerfiles.
func TestConda(t *testing.T) { runCases(t, condaCases) }

func init() { registerCases("conda", condaCases) }

var condaCases = []tcase{{
	name: "miniconda: install then clean -afy", in: "conda install -y -c conda-forge numpy pandas && conda clean -afy",
	env: minicondaEnv, out: "conda install -y -c conda-forge numpy pandas && true", caches: condaPkgs,
	notes: []string{"conda: cache /opt/conda/pkgs (locked)", "conda: removed `conda clean -afy`"},
}, {
	name: "micromamba image: install from a file, clean --all --yes",
	in:   "micromamba install -y -n base -f /tmp/env.yaml &&     micromamba clean --all --yes", env: micromambaEnv,
	out: "micromamba install -y -n base -f /tmp/env.yaml &&     true", caches: condaPkgs,
}, {
	name: "jupyter: mamba as the notebook user (numeric), owned by it",
	in:   "mamba install --yes 'jupyterlab' 'notebook' && mamba clean --all -f -y && fix-permissions \"${CONDA_DIR}\"",
	env:  jupyterEnv, user: "1000",
	out:    "mamba install --yes 'jupyterlab' 'notebook' && true && fix-permissions \"${CONDA_DIR}\"",
	caches: []string{"/opt/conda/pkgs locked 1000:0"},
}, {
	name: "absolute path to conda names the installation", in: "/opt/miniconda3/bin/conda env create -f environment.yml",
	env: debianEnv, caches: []string{"/opt/miniconda3/pkgs locked 0:0"},
}, {
	name: "miniforge on PATH", in: "conda create -y -n py312 python=3.12",
	env:    []string{"PATH=/opt/miniforge3/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	caches: []string{"/opt/miniforge3/pkgs locked 0:0"},
}, {
	name: "CONDA_PKGS_DIRS", in: "conda install -y git", env: withEnv(minicondaEnv, "CONDA_PKGS_DIRS=/var/cache/conda,/opt/conda/pkgs"),
	caches: []string{"/var/cache/conda locked 0:0"},
}, {
	name: "clean --tempfiles touches environments: stays", in: "conda install -y x && conda clean --tempfiles",
	env: minicondaEnv, caches: condaPkgs,
}, {
	name: "micromamba without a root prefix", in: "micromamba install -y -n base python=3.12", env: debianEnv,
	notes: []string{"conda: skipped: MAMBA_ROOT_PREFIX not set"},
}, {
	name: "conda we can't place", in: "conda install -y numpy", env: debianEnv,
	notes: []string{"conda: skipped: can't tell where conda is installed"},
}, {
	name: "always_softlink in the environment", in: "conda install -y numpy", env: withEnv(minicondaEnv, "CONDA_ALWAYS_SOFTLINK=true"),
	notes: []string{"conda: skipped: CONDA_ALWAYS_SOFTLINK"},
}, {
	name: "micromamba image as mambauser", in: "micromamba install -y -n base -f env.yaml", env: micromambaEnv, user: "mambauser",
	notes: []string{"conda: skipped: user mambauser not resolved yet"},
}, {
	name: "config, init, clean alone: none",
	in:   "conda config --add channels conda-forge && conda init bash && conda clean -afy", env: minicondaEnv, none: true,
}}
