"""Podman plumbing for test_container.py: base images, the image build, containers.

No Docker engine runs on the test machines, but podman does. The Dockerfile names
docker.io/library/debian:bookworm and :bookworm-slim; they are built here from Debian's
archive with debootstrap (the mirror of /etc/apt/sources.list.d/debian.sources) and
imported under those names, so the Dockerfile stays what a Docker user runs.

This machine's limits need flags that users do not: runc instead of crun, cgroupfs,
host networking, and explicit ulimits. They live here and nowhere else.

Caches, so that a second run is fast:
- the base root filesystems as tarballs in CACHE_DIR (podman's own storage is checked
  first; the tarballs survive a `podman system reset`);
- podman's layer cache for the image itself: `podman build` runs every time and reuses
  every layer whose inputs did not change (a rebuild of ferry only when its sources did).

Environment: FERRY_CONTAINER_CACHE (default /var/tmp/ferry-container),
FERRY_DEBIAN_MIRROR (default: from debian.sources), FERRY_CONTAINER_IMAGE (test an
image that is already built, by name, instead of building one).
"""

import os
import re
import shutil
import subprocess
import tempfile
import time

import harness

CACHE_DIR = os.environ.get("FERRY_CONTAINER_CACHE", "/var/tmp/ferry-container")
IMAGE = "localhost/ferry:test"
BUILD_STAGE = "localhost/ferry-build:test"  # the Dockerfile's build stage, kept as cache
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]
RUN_FLAGS = ["--network", "host", "--ulimit", "nofile=1024:1024", "--ulimit",
             "nproc=1024:1024"]
BASE_IMAGES = {
    # tag: whether to slim it as Debian's -slim images are (no docs, man pages, locales)
    "docker.io/library/debian:bookworm": False,
    "docker.io/library/debian:bookworm-slim": True,
}
DEFAULT_MIRROR = "http://deb.debian.org/debian"
SOURCES = "/etc/apt/sources.list.d/debian.sources"

# What Debian's slim images leave out, as dpkg path excludes (debuerreotype's list).
SLIM_EXCLUDES = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
"""

# apt settings of Debian's images (debuerreotype): downloaded packages and apt's binary
# caches are removed after every apt run, so they never end up in a layer.
APT_CONFIG = {
    "docker-clean": (
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'),
    "docker-autoremove-suggests": 'Apt::AutoRemove::SuggestsImportant "false";\n',
    "docker-no-languages": 'Acquire::Languages "none";\n',
}


class Unavailable(Exception):
    """podman cannot run containers on this machine at all."""


def podman(*args, check=True, timeout=120, **kw):
    """Runs `podman <global flags> args`; returns the CompletedProcess (text)."""
    p = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout,
                       **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({p.returncode}):\n"
                             f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


def check_podman():
    """Raises Unavailable, saying why, when podman cannot work here."""
    if shutil.which("podman") is None:
        raise Unavailable("podman is not installed (apt-get install -y podman runc "
                          "debootstrap)")
    if shutil.which("runc") is None:
        raise Unavailable("runc is not installed (apt-get install -y runc)")
    if os.geteuid() != 0:
        raise Unavailable("the container test needs root (rootful podman and debootstrap)")
    p = podman("info", check=False, timeout=60)
    if p.returncode != 0:
        raise Unavailable(f"`podman info` fails: {p.stderr.strip()[-500:]}")


def debian_mirror():
    if os.environ.get("FERRY_DEBIAN_MIRROR"):
        return os.environ["FERRY_DEBIAN_MIRROR"]
    try:
        with open(SOURCES) as f:
            m = re.search(r"^URIs:\s*(\S+)", f.read(), re.M)
            if m:
                return m.group(1)
    except FileNotFoundError:
        pass
    return DEFAULT_MIRROR


def _slim(root):
    with open(os.path.join(root, "etc/dpkg/dpkg.cfg.d/docker-slim"), "w") as f:
        f.write(SLIM_EXCLUDES)
    for d in ("usr/share/man", "usr/share/info", "usr/share/groff", "usr/share/locale",
              "usr/share/lintian", "usr/share/linda"):
        shutil.rmtree(os.path.join(root, d), ignore_errors=True)
    doc = os.path.join(root, "usr/share/doc")
    for dirpath, _, files in os.walk(doc):
        for name in files:
            if name != "copyright":
                os.unlink(os.path.join(dirpath, name))


def _debootstrap(root):
    """A minimal bookworm in `root`, configured like Debian's images: apt pointed at the
    same mirror (the host's debian.sources when it has one, so security updates come
    too), no package lists, no downloaded packages."""
    mirror = debian_mirror()
    p = subprocess.run(["debootstrap", "--variant=minbase", "bookworm", root, mirror],
                       capture_output=True, text=True, timeout=1200)
    if p.returncode != 0:
        raise AssertionError(f"debootstrap from {mirror} failed:\n{p.stdout[-3000:]}\n"
                             f"{p.stderr[-3000:]}")
    if os.path.exists(SOURCES) and "bookworm" in open(SOURCES).read():
        shutil.copy(SOURCES, os.path.join(root, "etc/apt/sources.list.d/debian.sources"))
        os.unlink(os.path.join(root, "etc/apt/sources.list"))
    for name, text in APT_CONFIG.items():
        with open(os.path.join(root, "etc/apt/apt.conf.d", name), "w") as f:
            f.write(text)
    for d in ("var/lib/apt/lists", "var/cache/apt"):
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for name in files:
                if name != "lock":
                    os.unlink(os.path.join(dirpath, name))


def _tar(root, tar_path):
    partial = tar_path + ".partial"
    subprocess.run(["tar", "-C", root, "-cf", partial, "--numeric-owner", "."], check=True,
                   timeout=600)
    os.replace(partial, tar_path)


def _make_rootfs_tars(tars, log):
    """debootstraps once and writes the tarball of each tag in `tars` (tag -> path)."""
    with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix="rootfs-") as tmp:
        root = os.path.join(tmp, "root")
        _debootstrap(root)
        # The full image first: slimming removes files.
        for tag in sorted(tars, key=lambda t: BASE_IMAGES[t]):
            if BASE_IMAGES[tag]:
                _slim(root)
            _tar(root, tars[tag])
            log(f"debootstrapped {tag} from {debian_mirror()}")


def ensure_base_images(log=print):
    """Makes docker.io/library/debian:bookworm{,-slim} available to podman."""
    os.makedirs(CACHE_DIR, exist_ok=True)
    missing = [tag for tag in BASE_IMAGES
               if podman("image", "exists", tag, check=False).returncode != 0]
    tars = {tag: os.path.join(CACHE_DIR, tag.rsplit(":", 1)[1] + ".tar") for tag in missing}
    to_make = {tag: path for tag, path in tars.items() if not os.path.exists(path)}
    if to_make:
        _make_rootfs_tars(to_make, log)
    for tag, tar_path in tars.items():
        podman("import", "--change", "CMD=[\"bash\"]", "--change",
               "ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               tar_path, tag, timeout=600)
        log(f"imported {tag}")


def image_id(name):
    p = podman("image", "inspect", "--format", "{{.Id}}", name, check=False)
    return p.stdout.strip() if p.returncode == 0 else None


def build_image(log=print):
    """Builds the Dockerfile as IMAGE (reusing cached layers) and returns its name.

    The build stage is tagged too (BUILD_STAGE), so that the images an earlier build left
    behind can be removed by id without losing the cache the next build needs."""
    if os.environ.get("FERRY_CONTAINER_IMAGE"):
        return os.environ["FERRY_CONTAINER_IMAGE"]
    ensure_base_images(log)
    before = {name: image_id(name) for name in (BUILD_STAGE, IMAGE)}
    started = time.monotonic()
    dockerfile = os.path.join(harness.REPO, "Dockerfile")
    for target in ([BUILD_STAGE, "--target", "build"], [IMAGE]):
        podman("build", "--network", "host", "--layers", "-t", *target, "-f", dockerfile,
               harness.REPO, timeout=3600)
    log(f"podman build took {time.monotonic() - started:.1f}s")
    for name, old in before.items():
        if old and old != image_id(name):
            podman("rmi", old, check=False)
    return IMAGE


def image_size(image):
    return int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())


class Container:
    """A detached container of `image` on the host network; removed by close()."""

    def __init__(self, image, args=(), env=None, volumes=(), extra_flags=()):
        cmd = ["run", "-d", *RUN_FLAGS, *extra_flags]
        for k, v in (env or {}).items():
            cmd += ["-e", f"{k}={v}"]
        for host_path, container_path, mode in volumes:
            cmd += ["-v", f"{host_path}:{container_path}:{mode}"]
        self.started = time.monotonic()
        self.id = podman(*cmd, image, *args).stdout.strip()

    def inspect(self, fmt):
        return podman("inspect", "--format", fmt, self.id).stdout.strip()

    def status(self):
        """podman's state: running, stopping (podman stop is waiting), exited..."""
        return self.inspect("{{.State.Status}}")

    def exit_code(self):
        return int(self.inspect("{{.State.ExitCode}}"))

    def host_pid(self):
        """The host's pid of the container's PID 1."""
        return int(self.inspect("{{.State.Pid}}"))

    def logs(self):
        """(stdout, stderr) of the container so far."""
        p = podman("logs", self.id)
        return p.stdout, p.stderr

    def exec(self, *args, check=True):
        return podman("exec", self.id, *args, check=check)

    def wait_serving(self, port, timeout=20.0):
        """Waits until `port` accepts; returns the seconds since `podman run` began."""
        if not harness.wait_for_port(port, timeout=timeout):
            out, err = self.logs()
            raise AssertionError(f"the container does not listen on {port} "
                                 f"(status {self.status()}):\n{out}\n{err}")
        return time.monotonic() - self.started

    def wait_exit(self, timeout=30.0):
        """Waits for the container to exit; returns its exit code."""
        p = podman("wait", self.id, timeout=timeout)
        return int(p.stdout.strip().splitlines()[-1])

    def close(self):
        podman("rm", "-f", "-t", "0", self.id, check=False)
