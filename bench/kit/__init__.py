"""What the benchmarks share: the server processes and the app's CLI (`server`), throw-away databases seeded
by the app's bulk builder (`scratch`), the load-generator processes (`client`), request bodies (`bodies`), CPU
accounting (`cpu`), report helpers (`report`) and the run itself: signals, clean-up, `--smoke`, and the exit
rule (`run`).

The kit imports the app lazily (inside the functions that need it): every load generator is a spawned process
that re-imports the benchmark's main module, and it should start in a fraction of a second, not import the
whole server first.
"""
