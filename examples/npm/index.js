console.log(Object.keys(require("./package.json").dependencies));
