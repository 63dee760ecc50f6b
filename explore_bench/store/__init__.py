"""The results store on disk: where a run's files go and how they are written.

`layout` names a run's directory and its files and says when one is complete (``DONE``);
`io` writes files atomically and turns checkpoints into plain data; `lock` keeps one writer
per run directory; `compact` stores finished runs' metrics gzip-compressed. Runs write
through this part and reports read through it.

May import: `explore_bench.errors` only.
"""
