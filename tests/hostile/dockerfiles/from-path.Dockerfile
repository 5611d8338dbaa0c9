# expect: reject no such image
FROM ../../etc/passwd
