"""The pure core: the flag language, the job contract, the policy engine, fair-share decisions,
styles and each model family's capabilities. No I/O, and nothing else of reelbot's imported."""
