"""English prose: the Python language reference that ships with CPython, as passages.

Passages are the prose paragraphs of ``pydoc_data.topics`` (code samples, grammar rules and
headings left out, whitespace collapsed, repeats dropped). Every 10th passage is 'test', the
rest 'train'.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from actsparse.zoo.data import TextData
from actsparse.zoo.splits import check_split, every_nth

MIN_WORDS = 8  # shorter paragraphs are mostly captions and list stubs


def passages(text: str, min_words: int = MIN_WORDS) -> list[str]:
    """Split text into prose paragraphs at blank lines, dropping code, headings and stubs.

    A paragraph is dropped when any line is indented by 3 or more spaces (code, grammar,
    tables; list items indent by 2), holds a ``>>>`` prompt, is underlined as a heading, or
    when the paragraph has fewer than ``min_words`` words.

    Example:
        >>> doc = "A title\\n*******\\n\\nThis paragraph is real prose, long enough to keep."
        >>> passages(doc + "\\n\\n   x = 1  # code\\n\\nToo short.")
        ['This paragraph is real prose, long enough to keep.']
    """
    kept = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [line for line in paragraph.splitlines() if line.strip()]
        if not lines or any(line.startswith("   ") or ">>>" in line for line in lines):
            continue
        if any(set(line.strip()) <= set("*=-~^") for line in lines):
            continue
        words = " ".join(lines).split()
        if len(words) >= min_words:
            kept.append(" ".join(words))
    return kept


@lru_cache(maxsize=1)
def _reference_passages() -> tuple[str, ...]:
    import pydoc_data.topics

    topics = pydoc_data.topics.topics
    found = passages("\n\n".join(topics[key] for key in sorted(topics)))
    return tuple(dict.fromkeys(found))  # topics repeat paragraphs; keep train and test disjoint


def text(split: str = "test", limit: int | None = None) -> TextData:
    """Prose passages from the Python language reference (stdlib ``pydoc_data``).

    Example:
        >>> data = text("test", limit=2)
        >>> len(data), all(len(t.split()) >= 8 for t in data.texts)
        (2, True)
        >>> len(text("train")) > 5 * len(text("test"))
        True
    """
    check_split("text", split, ("train", "test"))
    return TextData(every_nth(_reference_passages(), split, 10)[:limit], "text")


def read_text_file(path: str | Path, limit: int | None = None) -> TextData:
    """A user's ``.txt`` file as passages: paragraphs at blank lines, else one per line.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
        >>> _ = open(path, "w").write("First passage,\\non two lines.\\n\\nSecond passage.\\n")
        >>> read_text_file(path).texts
        ['First passage, on two lines.', 'Second passage.']
    """
    path = Path(path)
    raw = path.read_text(encoding="utf-8", errors="replace")
    chunks = re.split(r"\n\s*\n", raw) if re.search(r"\n\s*\n", raw) else raw.splitlines()
    texts = [" ".join(chunk.split()) for chunk in chunks if chunk.strip()]
    return TextData(texts[:limit], str(path))
