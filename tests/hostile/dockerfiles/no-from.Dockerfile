# expect: reject no build stage
RUN true
