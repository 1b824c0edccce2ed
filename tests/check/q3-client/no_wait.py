# Mistake: not strict alternation: each typed line is sent at once, replies are printed when
# they happen to be there; the client never waits for its turn.
# expect: turns=fail print=skip peer-close=fail
import select, socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.create_connection(("localhost", PORT))
while True:
    try:
        line = input()
    except EOFError:
        break
    s.sendall((line + "\n").encode())
    while select.select([s], [], [], 0)[0]:
        data = s.recv(1024)
        if not data:
            sys.exit(0)
        print(data.decode(), end="")
