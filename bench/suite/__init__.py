"""The machinery of greenhub's benchmark suite (bench/run.py); what it measures is declared in
bench/benchmarks.py."""
