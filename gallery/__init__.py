"""The community gallery: the system of record for every generation, and the web pages that show it.

`gallery` imports neither `bot` nor `worker`; producers hand it plain data (a `GenerationCreate`
whose `spec` is the job contract as a JSON dict), so the web process needs no job code at all.
"""
