"""A local 3-member etcd cluster with TLS, run by supervisord and reached over SSH on loopback
addresses: the bed that the demo, the integration tests and the benchmarks run on.

`python -m testbed up|down|reset|status|inventory` is its command line.
"""
