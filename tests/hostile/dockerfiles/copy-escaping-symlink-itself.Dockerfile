# expect: accept (the symlink is copied, not what it points to)
FROM base
COPY esc /esc
