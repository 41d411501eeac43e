"""match: every interest against new papers, explainably and at scale.

The interest language (``query``: lexer, nodes, fields) parses what subscribers type;
``compile`` turns it into an OR of all-of clauses over terms; ``index`` finds every term of
every interest in a paper in one scan (Aho-Corasick over stems, dictionaries for categories and
authors); ``percolate`` evaluates the clauses (arrays for one-term clauses, ``clauses`` for the
rest), ``describe`` scores descriptions by sentence embeddings (``semantic``) or words,
``combine`` fans hits out to subscribers. ``engine.match_subscriptions`` is the one matching
function; ``preview.preview_interests`` is what ``paperpost match test`` and the web form call.
"""
