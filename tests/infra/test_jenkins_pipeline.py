"""The delivery pipeline's guarantees, read off jenkins/Jenkinsfile and its step scripts: the
release key is bound in one stage only, for main only, on an agent label nothing else uses, and
that stage builds in a target directory made fresh; the later stages publish a pointer signed
there, never holding the key; and nothing lets a build skip the tests."""

import re

from conftest import REPO

JENKINS = REPO / "jenkins"
JENKINSFILE = (JENKINS / "Jenkinsfile").read_text()
STEPS = JENKINS / "steps"
SIGNING_KEY = "owp-release-signing-key"


def block(text, opening):
    """The body of the `{ ... }` block that starts at the first `opening` (which ends with '{')."""
    start = text.index(opening) + len(opening)
    depth = 1
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    raise AssertionError(f"unbalanced block after {opening!r}")


def stage(name, text=JENKINSFILE):
    return block(text, f"stage('{name}') {{")


def code(text):
    """Groovy without its // comments, so a comment naming the key does not count."""
    return re.sub(r"//[^\n]*", "", text)


def test_the_signing_key_is_bound_once_in_the_main_only_sign_stage():
    assert code(JENKINSFILE).count(SIGNING_KEY) == 1
    release = stage("Release")
    assert re.match(r"\s*when \{ branch 'main' \}", release), "Release must run for main only"
    sign = stage("Sign", release)
    assert SIGNING_KEY in sign
    assert re.search(r"withCredentials\(\[file\(credentialsId: 'owp-release-signing-key',\s*"
                     r"variable: 'OWP_RELEASE_SECRET_KEY'\)\]\) \{\s*sh 'jenkins/steps/release.sh'\s*\}", sign)
    for other in ("Test", "Package", "Publish", "Bake", "Deploy", "Verify"):
        assert "withCredentials([file(credentialsId: 'owp-release-signing" not in stage(other)
    for path in JENKINS.glob("Jenkinsfile*"):
        if path.name != "Jenkinsfile":
            assert SIGNING_KEY not in path.read_text(), f"{path.name} must not bind the release key"


def test_the_sign_stage_has_an_agent_label_of_its_own():
    sign = stage("Sign", stage("Release"))
    assert "agent { label 'owp-release' }" in sign
    labels = re.findall(r"label '([^']+)'", code(JENKINSFILE))
    assert labels.count("owp-release") == 1 and "owp" in labels, labels
    for path in JENKINS.glob("Jenkinsfile*"):
        if path.name != "Jenkinsfile":
            assert "owp-release'" not in path.read_text()


def test_branch_builds_package_with_a_throwaway_key_on_the_shared_agents():
    package = stage("Package")
    assert re.match(r"\s*(//[^\n]*\n\s*)*when \{ not \{ branch 'main' \} \}", package)
    assert "sh 'jenkins/steps/package.sh --throwaway-key'" in package
    assert code(JENKINSFILE).count("package.sh") == 1


def test_the_release_is_built_in_a_fresh_target_directory():
    sign = stage("Sign", stage("Release"))
    assert "release.sh --reuse-target" not in JENKINSFILE and "CARGO_TARGET_DIR" not in code(sign)
    release = (STEPS / "release.sh").read_text()
    assert re.search(r'CARGO_TARGET_DIR="\$\(mktemp -d ', release)
    assert '"$steps_dir/build.sh"' in release and '"$steps_dir/package.sh"' in release
    # The fresh directory is the default; reusing one is an explicit flag.
    assert '[ "${1:-}" != --reuse-target ]' in release


def test_no_stage_after_sign_holds_the_key_and_deploy_publishes_the_signed_pointer():
    for name in ("publish.sh", "deploy.sh", "bake.sh", "verify.sh", "wait-rollout.sh", "smoke.sh", "test.sh"):
        assert "OWP_RELEASE_SECRET_KEY" not in (STEPS / name).read_text(), name
    deploy = (STEPS / "deploy.sh").read_text()
    assert '--pointer "$pointer"' in deploy and "--secret-key" not in deploy
    assert "sign-pointer" in (STEPS / "package.sh").read_text()
    assert "unstash 'release'" in stage("Publish")
    assert "stash name: 'release'" in stage("Sign", stage("Release"))


def test_there_is_no_test_skip_marker():
    for path in [*JENKINS.rglob("*"), *(REPO / "scripts").iterdir(), *(REPO / "terraform").rglob("*.tf")]:
        if path.is_file() and path.suffix != ".md":
            assert "OWP_TESTED_TREES" not in path.read_text(errors="replace"), path
    test = code((STEPS / "test.sh").read_text().split("cd \"$repo\"", 1)[1])
    assert test.strip() == '"$repo/scripts/test"', test
