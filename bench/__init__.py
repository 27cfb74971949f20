"""``make bench``: how fast and how lean stemme is, end to end, in one run.

The unmodified application runs in its own process and talks HTTP to the Bot API
emulator (``sandbox/emulator/``) on loopback; this process plays many members at once.
It measures

1. updates handled per second while members run the whole note flow, next to a bare
   python-telegram-bot echo bot driven the same way (the ratio is the figure to watch);
2. the time ``process_update`` takes per update inside the application, on SQLite and
   on PostgreSQL;
3. the peak memory of ``python -m bot run`` after 10,000 updates from 5,000 members;
4. the resident card and ``/moments`` queries with 200,000 notes across 500 teams.

It prints a report and writes ``bench/results.json``. ``python -m bench --help`` lists
the knobs; ``--quick`` is a smoke run with small numbers.
"""
