# expect: reject not a stage before this one, nor an image
FROM base
COPY --from=nostage /x /y
