# Mistake: the alternation started the other way: the server reads the keyboard first.
# expect: turns=fail print=skip
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("", PORT))
srv.listen(1)
s, addr = srv.accept()
f = s.makefile("rb")
while True:
    try:
        answer = input()
    except EOFError:
        break
    s.sendall((answer + "\n").encode())
    line = f.readline()
    if not line:
        break
    print(line.decode(), end="")
s.close()
