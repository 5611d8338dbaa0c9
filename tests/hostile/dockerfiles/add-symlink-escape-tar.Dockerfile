# expect: reject outside the layer root
FROM base
ADD symlink-escape.tar /
