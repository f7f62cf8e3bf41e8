#!/usr/bin/python3
"""acceptor.py IP PORT: a TCP server for connection-rate runs (scripts/bench/connrate.sh). One
process, no fork: accepts a connection, answers one line, closes, next. Prints "listening" once
it listens (the benchmark waits for that line). Runs inside a lab pod namespace until the lab's
teardown ends it."""
import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1024)
print('listening', flush=True)
while True:
    c, _ = s.accept()
    try:
        c.sendall(b'ok\n')
    except OSError:
        pass
    c.close()
