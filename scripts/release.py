#!/usr/bin/env python3
"""Packages release builds the way the Terraform Registry (and goreleaser) lay them out.

    python3 scripts/release.py [--dist DIR] OS_ARCH=BINARY ...
    python3 scripts/release.py --check-version

The version is Cargo.toml's. When the release is for a tag (RELEASE_TAG, or GITHUB_REF_NAME
when GITHUB_REF_TYPE is "tag"), the tag must be v<version>, or nothing is written.

For each OS_ARCH=BINARY it writes DIST/terraform-provider-gitopsbridge_<version>_<os>_<arch>.zip
holding the binary as terraform-provider-gitopsbridge_v<version> (.exe on windows), then
terraform-provider-gitopsbridge_<version>_manifest.json (terraform-registry-manifest.json) and
terraform-provider-gitopsbridge_<version>_SHA256SUMS over the zips and the manifest. With
GPG_FINGERPRINT set, the sums are signed with that key into a detached binary signature,
..._SHA256SUMS.sig (GPG_PASSPHRASE, when set, unlocks the key). DIST defaults to dist/.
"""
import argparse
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
NAME = "terraform-provider-gitopsbridge"
PLATFORM = re.compile(r"(linux|darwin|windows|freebsd)_(amd64|arm64|386|arm)")


class ReleaseError(Exception):
    pass


def cargo_version():
    with open(ROOT / "Cargo.toml", "rb") as f:
        return tomllib.load(f)["package"]["version"]


def release_tag():
    """The tag being released, if any: RELEASE_TAG, else the tag a GitHub Actions run is for."""
    if os.environ.get("RELEASE_TAG"):
        return os.environ["RELEASE_TAG"]
    if os.environ.get("GITHUB_REF_TYPE") == "tag":
        return os.environ.get("GITHUB_REF_NAME") or None
    return None


def check_tag(version):
    tag = release_tag()
    if tag is not None and tag != f"v{version}":
        raise ReleaseError(
            f"the tag {tag} does not match the version in Cargo.toml ({version}): "
            f"tag v{version}, or change Cargo.toml's version and tag again"
        )
    return tag


def package(version, dist, specs):
    artifacts = []
    for spec in specs:
        platform, sep, binary = spec.partition("=")
        if not sep or not PLATFORM.fullmatch(platform):
            raise ReleaseError(f"{spec!r} is not OS_ARCH=BINARY (e.g. linux_amd64=target/release/{NAME})")
        binary = pathlib.Path(binary)
        if not binary.is_file():
            raise ReleaseError(f"no binary for {platform}: {binary} does not exist")
        suffix = ".exe" if platform.startswith("windows_") else ""
        archive = dist / f"{NAME}_{version}_{platform}.zip"
        # ZipInfo's fixed date (1980) keeps the archive, and so its checksum, reproducible.
        info = zipfile.ZipInfo(f"{NAME}_v{version}{suffix}")
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(info, binary.read_bytes())
        artifacts.append(archive)
    manifest = dist / f"{NAME}_{version}_manifest.json"
    shutil.copy(ROOT / "terraform-registry-manifest.json", manifest)
    artifacts.append(manifest)
    sums = dist / f"{NAME}_{version}_SHA256SUMS"
    sums.write_text("".join(f"{hashlib.sha256(a.read_bytes()).hexdigest()}  {a.name}\n" for a in sorted(artifacts)))
    return sorted(artifacts) + [sums]


def sign(sums, fingerprint):
    """A detached binary signature, as the Registry verifies it."""
    if shutil.which("gpg") is None:
        raise ReleaseError("GPG_FINGERPRINT is set but gpg is not installed (apt-get install gnupg)")
    signature = sums.with_name(sums.name + ".sig")
    command = ["gpg", "--batch", "--yes", "--local-user", fingerprint, "--output", str(signature)]
    passphrase = os.environ.get("GPG_PASSPHRASE")
    if passphrase:
        command += ["--pinentry-mode", "loopback", "--passphrase-fd", "0"]
    command += ["--detach-sign", str(sums)]
    done = subprocess.run(command, input=(passphrase or "").encode(), capture_output=True)
    if done.returncode != 0:
        raise ReleaseError(f"gpg could not sign {sums.name} with {fingerprint}:\n{done.stderr.decode().strip()}")
    return signature


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=pathlib.Path, default=ROOT / "dist")
    parser.add_argument("--check-version", action="store_true", help="only check the tag against Cargo.toml")
    parser.add_argument("binaries", nargs="*", metavar="OS_ARCH=BINARY")
    args = parser.parse_args()
    try:
        version = cargo_version()
        tag = check_tag(version)
        if args.check_version:
            print(f"version {version}" + (f", tag {tag}" if tag else ", no tag"))
            return
        if not args.binaries:
            raise ReleaseError("no OS_ARCH=BINARY given")
        shutil.rmtree(args.dist, ignore_errors=True)
        args.dist.mkdir(parents=True)
        written = package(version, args.dist, args.binaries)
        fingerprint = os.environ.get("GPG_FINGERPRINT", "").strip()
        if fingerprint:
            written.append(sign(written[-1], fingerprint))
        else:
            print(f"{written[-1].name} is not signed: set GPG_FINGERPRINT to sign it", file=sys.stderr)
    except ReleaseError as e:
        sys.exit(f"release failed: {e}")
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
