"""headwater video: follow live HLS streams, store every segment, record gaps, sample frames.

playlist.py  RFC 8216 parser (sans-IO)        follower.py  the live-following state machine
variant.py   choosing a master's rendition    fetch.py     HTTP with timeouts and retries
store.py     the lake's object area           frames.py    PyAV frame sampling
records.py   video.segments / video.frames    (positions: sources/positions.py)
publish.py   producing with acknowledgement   runner.py    many streams in one process
testing.py   a synthetic live origin for tests and benchmarks
"""
