// examples/fastify-cart, real processes behind a real nginx: see cart-suite.ts.
import { defineCartE2E } from './cart-suite.js'

defineCartE2E('fastify-cart')
