# Mistake: print(data.decode()): the data already ends with '\n', print adds another.
# (It prints each segment as it comes, so split lines come out split too.)
# expect: lines=fail segments=fail next-client=warn
import codecs, socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", PORT))
s.listen(1)
c, addr = s.accept()
dec = codecs.getincrementaldecoder("utf-8")()
while True:
    data = c.recv(1024)
    if not data:
        break
    print(dec.decode(data))
