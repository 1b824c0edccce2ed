# Mistake: no fork: one process takes turns, keyboard then socket. A line from the peer waits
# until something is typed; bursts both ways at once get stuck (it waits on recv() while
# lines are typed), so the end of the keyboard and the peer's end are never seen either.
# expect: fork=fail from-peer=fail both-ways=fail eof=fail half-close=skip peer-end=fail
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.create_connection(("localhost", PORT))
while True:
    try:
        line = input()
    except EOFError:
        break
    s.sendall((line + "\n").encode())
    data = s.recv(4096)
    if not data:
        break
    print(data.decode(), end="")
s.close()
