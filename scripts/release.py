#!/usr/bin/env python3
"""Packages release builds the way the Terraform Registry expects them.

    python3 scripts/release.py VERSION TARGET_TRIPLE=OS_ARCH ...

For each built target it writes dist/terraform-provider-gitopsbridge_<version>_<os>_<arch>.zip
holding `terraform-provider-gitopsbridge_v<version>`, then one
dist/terraform-provider-gitopsbridge_<version>_SHA256SUMS over every zip and the registry
manifest (copied as terraform-provider-gitopsbridge_<version>_manifest.json).
"""
import hashlib
import pathlib
import shutil
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
NAME = "terraform-provider-gitopsbridge"


def main():
    version, targets = sys.argv[1], sys.argv[2:]
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    dist.mkdir()
    artifacts = []
    for spec in targets:
        triple, platform = spec.split("=")
        # "host" is the toolchain's own target, built into target/release.
        binary = ROOT / "target" / ("release" if triple == "host" else f"{triple}/release") / NAME
        archive = dist / f"{NAME}_{version}_{platform}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            info = zipfile.ZipInfo(f"{NAME}_v{version}")
            info.external_attr = 0o755 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, binary.read_bytes())
        artifacts.append(archive)
    manifest = dist / f"{NAME}_{version}_manifest.json"
    shutil.copy(ROOT / "terraform-registry-manifest.json", manifest)
    artifacts.append(manifest)
    sums = dist / f"{NAME}_{version}_SHA256SUMS"
    sums.write_text("".join(f"{hashlib.sha256(a.read_bytes()).hexdigest()}  {a.name}\n" for a in sorted(artifacts)))
    for a in sorted(artifacts) + [sums]:
        print(f"dist/{a.name}")


if __name__ == "__main__":
    main()
