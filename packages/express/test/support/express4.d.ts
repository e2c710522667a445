// `express4` is Express 4 installed under an alias (devDependency) to run the adapter against both majors.
// Its API as used here is the same as Express 5's, so it borrows those types.
declare module 'express4' {
  import express from 'express'
  export default express
}
