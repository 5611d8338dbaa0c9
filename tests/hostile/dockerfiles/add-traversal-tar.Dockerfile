# expect: reject ".." in name not allowed
FROM base
ADD traversal.tar /
