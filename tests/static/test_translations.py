"""The Brazilian Portuguese pages follow their English originals: the same
sections (heading levels, in order), the same fenced code blocks (byte for
byte, in order: commands, PromQL and code are never translated), the same
inline code spans, and the same links (a link to a translated page counts as
a link to its original; fragments are left out, since headings translate).
So a change to one page without the other fails here.

Pairs: README.md and README.pt-BR.md; docs/X.md and docs/pt-BR/X.md, at any
depth (docs/runbooks/X.md and docs/pt-BR/runbooks/X.md).
"""

import re
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PT_DOCS = DOCS / "pt-BR"

# English pages that must have a translation.
REQUIRED = ["README.md", "docs/compose.md", "docs/aws.md", "docs/kubernetes.md"] + [
    str(path.relative_to(REPO)) for path in sorted((DOCS / "runbooks").glob("*.md"))] + [
    str(path.relative_to(REPO)) for path in sorted((DOCS / "labs").glob("*.md"))]

FENCE = re.compile(r"^(```+|~~~+)")
HEADING = re.compile(r"^(#{1,6})\s+\S")
INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
INLINE_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")


def translation_of(original):
    """The pt-BR page of an English page (both relative to the repository)."""
    path = Path(original)
    if path == Path("README.md"):
        return Path("README.pt-BR.md")
    return Path("docs/pt-BR") / path.relative_to("docs")


def original_of(translated):
    path = Path(translated)
    if path == Path("README.pt-BR.md"):
        return Path("README.md")
    return Path("docs") / path.relative_to("docs/pt-BR")


def translations():
    pages = [Path("README.pt-BR.md")] if (REPO / "README.pt-BR.md").exists() else []
    pages += [path.relative_to(REPO) for path in sorted(PT_DOCS.rglob("*.md"))] if PT_DOCS.exists() else []
    return pages


def parse(path):
    """(heading levels, code blocks, inline code spans, link targets) of a
    Markdown page. Inline code and links are read per paragraph, since a code
    span may run across a line break (which Markdown reads as a space)."""
    levels, blocks, spans, links = [], [], Counter(), Counter()
    fence, block, paragraph = None, [], []

    def end_paragraph():
        text = "\n".join(paragraph)
        paragraph.clear()
        prose = INLINE_CODE.sub(lambda m: spans.update([" ".join(m.group(2).split())]) or "", text)
        for line in prose.splitlines():
            for target in INLINE_LINK.findall(line) + REFERENCE_DEFINITION.findall(line):
                links[normalized_link(path, target)] += 1

    for line in (REPO / path).read_text(encoding="utf-8").splitlines():
        opening = FENCE.match(line.strip())
        if fence is not None:
            if opening and line.strip().startswith(fence) and line.strip().strip(fence[0]) == "":
                blocks.append("\n".join(block))
                fence, block = None, []
            else:
                block.append(line)
            continue
        if opening:
            end_paragraph()
            fence, block = opening.group(1), [line.strip()]  # the info string (```sh) counts too
            continue
        heading = HEADING.match(line)
        if heading or not line.strip():
            end_paragraph()
        if heading:
            levels.append(len(heading.group(1)))
        paragraph.append(line)
    end_paragraph()
    assert fence is None, "%s: a code block is never closed" % path
    return levels, blocks, spans, links


def normalized_link(page, target):
    """A link's target with its fragment left out; a relative one as the
    repository path it names, a translated page's as its original's."""
    target = target.split("#", 1)[0]
    if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target):
        return target  # a fragment alone, or a URL
    resolved = (REPO / page).parent.joinpath(target).resolve()
    try:
        relative = resolved.relative_to(REPO)
    except ValueError:
        return target
    if relative == Path("README.pt-BR.md") or PT_DOCS in resolved.parents:
        relative = original_of(relative)
    return str(relative)


@pytest.mark.parametrize("original", REQUIRED)
def test_every_guide_and_runbook_has_a_translation(original):
    assert (REPO / translation_of(original)).is_file(), "%s has no translation at %s" % (
        original, translation_of(original))


@pytest.mark.parametrize("translated", translations(), ids=str)
def test_translation_follows_its_original(translated):
    original = original_of(translated)
    assert (REPO / original).is_file(), "%s translates %s, which does not exist" % (translated, original)
    en_levels, en_blocks, en_spans, en_links = parse(original)
    pt_levels, pt_blocks, pt_spans, pt_links = parse(translated)
    assert pt_levels == en_levels, "headings differ in number or level"
    assert len(pt_blocks) == len(en_blocks), "%d code blocks against %d" % (len(pt_blocks), len(en_blocks))
    for index, (en, pt) in enumerate(zip(en_blocks, pt_blocks, strict=True)):
        assert pt == en, "code block %d differs:\n--- %s\n%s\n--- %s\n%s" % (index + 1, original, en,
                                                                              translated, pt)
    assert pt_spans == en_spans, "inline code differs: only in the original %s; only in the translation %s" % (
        dict(en_spans - pt_spans), dict(pt_spans - en_spans))
    assert pt_links == en_links, "links differ: only in the original %s; only in the translation %s" % (
        dict(en_links - pt_links), dict(pt_links - en_links))


def test_readmes_link_each_other():
    assert "README.pt-BR.md" in (REPO / "README.md").read_text(encoding="utf-8")
    assert "(README.md)" in (REPO / "README.pt-BR.md").read_text(encoding="utf-8")


def test_the_parser_sees_what_differs(tmp_path, monkeypatch):
    """The comparison itself can fail: a changed command, a missing section,
    a dropped link and a translated code span are each caught."""
    monkeypatch.setattr(__import__(__name__), "REPO", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "x.md").write_text("# A\n\n## B\n\nRun `make` ([C](y.md#c)).\n\n```sh\nmake test\n```\n")
    pairs = {
        "# A\n\n## B\n\nRode `make` ([C](y.md#c)).\n\n```sh\nmake test\n```\n": True,
        "# A\n\n## B\n\nRode `make` ([C](y.md)).\n\n```sh\nmake tests\n```\n": False,
        "# A\n\nRode `make` ([C](y.md#c)).\n\n```sh\nmake test\n```\n": False,
        "# A\n\n## B\n\nRode `make` (C).\n\n```sh\nmake test\n```\n": False,
        "# A\n\n## B\n\nRode `faça` ([C](y.md#c)).\n\n```sh\nmake test\n```\n": False,
    }
    for text, same in pairs.items():
        (tmp_path / "pt.md").write_text(text)
        en, pt = parse(Path("docs/x.md")), parse(Path("pt.md"))
        # The translation sits one level up here: compare links by name.
        en, pt = en[:3] + (Counter(Path(k).name for k in en[3].elements()),), pt[:3] + (
            Counter(Path(k).name for k in pt[3].elements()),)
        assert (en == pt) is same, text
