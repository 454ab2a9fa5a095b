"""Maven resolution's pure parts: the generated pom and the artifact named in a failure (no `mvn` runs)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from services.platform.stack.maven import STAMP, Artifact, copy_dependencies, is_complete, missing_artifact, pom

NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def test_the_pom_depends_on_each_artifact_with_its_exclusions() -> None:
    text = pom("jars", [Artifact("g", "a", "1"), Artifact("io.x", "sink", "2.0", exclude=("com.j:*",))])
    deps = ET.fromstring(text).findall("m:dependencies/m:dependency", NS)
    assert [(d.findtext("m:groupId", namespaces=NS), d.findtext("m:artifactId", namespaces=NS)) for d in deps] == [
        ("g", "a"),
        ("io.x", "sink"),
    ]
    assert deps[0].find("m:exclusions", NS) is None
    exclusion = deps[1].find("m:exclusions/m:exclusion", NS)
    assert exclusion is not None
    assert (exclusion.findtext("m:groupId", namespaces=NS), exclusion.findtext("m:artifactId", namespaces=NS)) == (
        "com.j",
        "*",
    )


def test_the_failed_artifact_is_named_from_mvn_output() -> None:
    output = (
        "[ERROR] Failed to execute goal on project sink: Could not resolve dependencies for project "
        "orderinfo.local:sink:pom:1: Could not find artifact io.debezium:debezium-connector-jdbc:jar:3.6.1.Final "
        "in central (https://example.invalid/maven2) -> [Help 1]"
    )
    assert missing_artifact(output) == "io.debezium:debezium-connector-jdbc:jar:3.6.1.Final"
    cached = (
        "Could not resolve dependencies for project orderinfo.local:sink:pom:1: "
        "io.debezium:debezium-connector-jdbc:jar:3.6.1.Final was not found in https://example.invalid/maven2 "
        "during a previous attempt."
    )
    assert missing_artifact(cached) == "io.debezium:debezium-connector-jdbc:jar:3.6.1.Final"
    assert missing_artifact("[ERROR] something else") is None


def test_a_complete_folder_is_reused_only_while_its_stamp_matches(tmp_path: Path) -> None:
    target = tmp_path / "jars"
    target.mkdir()
    (target / STAMP).write_text("v1")
    assert is_complete(target, "v1")
    assert not is_complete(target, "v2")
    assert not is_complete(tmp_path / "missing", "v1")
    assert copy_dependencies("<not used>", target, stamp="v1") == target  # no mvn run for a complete folder
