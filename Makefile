# The two commands (README): `make demo` and `make test`. Both install first (idempotent).
.PHONY: install demo test lint

install:
	bash scripts/install.sh

demo: install
	bash scripts/demo.sh

test: install
	bash scripts/test.sh

lint: install
	.venv/bin/ruff check bench tests && .venv/bin/mypy
