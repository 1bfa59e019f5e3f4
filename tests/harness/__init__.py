"""What the end-to-end tests share: the local stack, worker processes, waiting, members' moves.

Test modules import from here, never from each other; the fixtures defined here are registered
for every test by `tests/conftest.py`.
"""
