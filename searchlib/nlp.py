"""Stage 2: the spaCy pipeline of each language, loaded once and only when needed.

Loading the French pipeline takes several seconds, so nothing on the query path
imports spaCy unless a query word is new to the index.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from .errors import ModelNotInstalledError
from .languages import Language

if TYPE_CHECKING:
    import spacy


@functools.cache
def load_pipeline(language: Language) -> spacy.language.Language:
    """The spaCy pipeline for ``language``, with the components searchlib uses.

    The dependency parser is left out: the statistical sentence splitter
    (``senter``) gives the sentences passages need at a fraction of the cost,
    and nothing else here uses syntax.
    """
    import spacy

    try:
        nlp = spacy.load(language.pipeline, exclude=["parser"])
    except OSError:
        package = language.pipeline.replace("_", "-")
        raise ModelNotInstalledError(
            f"the {language.name} pipeline {language.pipeline!r} is not installed; "
            f"install it with: pip install {package}"
        ) from None
    if "senter" in nlp.disabled:
        nlp.enable_pipe("senter")
    return nlp
