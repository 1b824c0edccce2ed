# Right: accumulate bytes up to each '\n', decode whole lines; SO_REUSEADDR; one client.
# expect: next-client=warn
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", PORT))
s.listen(1)
c, addr = s.accept()
print("connexion de", addr)
buf = b""
while True:
    data = c.recv(1024)
    if not data:
        break
    buf += data
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        print(line.decode())
c.close()
s.close()
